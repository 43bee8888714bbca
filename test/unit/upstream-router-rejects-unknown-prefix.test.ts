import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UpstreamRouter } from '../../src/routing.ts';
import { routingConfig } from './support/routing-config.ts';
import { assertRegistryError } from './support/registry-error-assert.ts';

test('an unknown prefix is NAME_UNKNOWN', () => {
  const router = new UpstreamRouter(routingConfig());
  assertRegistryError(() => router.route('library/ubuntu', { prefix: 'evil.example.com' }), 'NAME_UNKNOWN');
});

test('an unknown prefix never falls through to ns, the name segment or the default', () => {
  const router = new UpstreamRouter(routingConfig());
  assertRegistryError(() => router.route('ghcr.io/owner/img', { prefix: 'nope', ns: 'docker.io' }), 'NAME_UNKNOWN');
  assertRegistryError(() => router.route('ubuntu', { prefix: 'nope' }), 'NAME_UNKNOWN');
});

test('the error names the prefix and is a 404', () => {
  const router = new UpstreamRouter(routingConfig());
  assert.throws(() => router.route('x', { prefix: 'attacker.io' }), (error: unknown) => {
    assert.ok(error instanceof Error && 'status' in error && 'detail' in error);
    assert.equal(error.status, 404);
    assert.deepEqual(error.detail, { prefix: 'attacker.io' });
    return true;
  });
});

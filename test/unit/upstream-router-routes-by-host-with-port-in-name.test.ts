import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRegistryPath, UpstreamRouter } from '../../src/routing.ts';
import { assertRegistryError } from './support/registry-error-assert.ts';
import { routingConfig } from './support/routing-config.ts';

test('MIRROR/127.0.0.1:5001/library/x routes to the upstream at that host and port', () => {
  const parsed = parseRegistryPath('/v2/127.0.0.1:5001/library/x/manifests/latest');
  assert.equal(parsed?.endpoint.kind, 'manifest');
  const name = parsed?.endpoint.kind === 'manifest' ? parsed.endpoint.name : '';
  const target = new UpstreamRouter(routingConfig()).route(name);
  assert.equal(target.upstream.name, 'internal');
  assert.equal(target.repository, 'library/x');
});

test('an unconfigured host:port is NAME_UNKNOWN, never the default upstream and never contacted', () => {
  assertRegistryError(() => new UpstreamRouter(routingConfig()).route('127.0.0.1:5002/library/x'), 'NAME_UNKNOWN');
});

test('host:port is accepted only as the first segment, and the rest must still be a valid name', () => {
  assertRegistryError(() => parseRegistryPath('/v2/library/127.0.0.1:5001/x/manifests/latest'), 'NAME_INVALID');
  assertRegistryError(() => parseRegistryPath('/v2/127.0.0.1:5001/Bad/manifests/latest'), 'NAME_INVALID');
  assertRegistryError(() => parseRegistryPath('/v2/127.0.0.1:5001/manifests/latest'), 'NAME_INVALID');
});

test('with a prefix or ns, a host:port first segment is not a repository name: NAME_INVALID, nothing sent upstream', () => {
  const router = new UpstreamRouter(routingConfig());
  assertRegistryError(() => router.route('localhost:5001/a', { prefix: 'ghcr' }), 'NAME_INVALID');
  assertRegistryError(() => router.route('127.0.0.1:5001/a', { ns: 'ghcr.io' }), 'NAME_INVALID');
});

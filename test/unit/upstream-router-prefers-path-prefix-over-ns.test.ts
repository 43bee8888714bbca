import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UpstreamRouter } from '../../src/routing.ts';
import { routingConfig } from './support/routing-config.ts';

test('the path prefix wins over ns and over an alias as first name segment', () => {
  const router = new UpstreamRouter(routingConfig());
  const target = router.route('docker.io/library/ubuntu', { prefix: 'ghcr', ns: 'docker.io' });
  assert.equal(target.upstream.name, 'ghcr');
  assert.equal(target.repository, 'docker.io/library/ubuntu', 'with a prefix the name is not stripped of an alias');
});

test('a prefix naming an upstream by alias routes there', () => {
  const router = new UpstreamRouter(routingConfig());
  const target = router.route('owner/img', { prefix: 'ghcr.io', ns: 'registry.k8s.io' });
  assert.equal(target.upstream.name, 'ghcr');
  assert.equal(target.repository, 'owner/img');
});

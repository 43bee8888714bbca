import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UpstreamRouter } from '../../src/routing.ts';
import { routingConfig } from './support/routing-config.ts';

test('a name whose first segment is no alias goes to the default upstream unchanged', () => {
  const router = new UpstreamRouter(routingConfig());
  const target = router.route('bitnami/redis');
  assert.equal(target.upstream.name, 'dockerhub');
  assert.equal(target.upstream.url, 'https://registry-1.docker.io');
  assert.equal(target.repository, 'bitnami/redis');
});

test('the default upstream is whatever defaultUpstream names', () => {
  const config = routingConfig();
  const router = new UpstreamRouter({ ...config, defaultUpstream: 'ghcr' });
  const target = router.route('owner/img');
  assert.equal(target.upstream.name, 'ghcr');
  assert.equal(target.repository, 'owner/img');
});

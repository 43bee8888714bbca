import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UpstreamRouter } from '../../src/routing.ts';
import { routingConfig } from './support/routing-config.ts';

test('the host of an upstream URL routes to it even when not listed as alias', () => {
  const router = new UpstreamRouter(routingConfig());
  // registry-1.docker.io is not in the fixture's aliases list, only in the URL.
  const docker = router.route('registry-1.docker.io/ubuntu');
  assert.equal(docker.upstream.name, 'dockerhub');
  assert.equal(docker.repository, 'library/ubuntu');
  assert.equal(router.route('pause', { ns: 'registry.k8s.io' }).upstream.name, 'k8s');
});

test('a host with a port (custom http upstream) works as ns and as prefix', () => {
  const router = new UpstreamRouter(routingConfig());
  const viaNs = router.route('team/app', { ns: '127.0.0.1:5001' });
  assert.equal(viaNs.upstream.name, 'internal');
  assert.equal(viaNs.upstream.url, 'http://127.0.0.1:5001');
  assert.equal(viaNs.repository, 'team/app');
  assert.equal(router.route('team/app', { prefix: '127.0.0.1:5001' }).upstream.name, 'internal');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UpstreamRouter } from '../../src/routing.ts';
import { routingConfig } from './support/routing-config.ts';

test('prefix and ns match aliases whatever their case', () => {
  const router = new UpstreamRouter(routingConfig());
  assert.equal(router.route('library/ubuntu', { ns: 'Docker.IO' }).upstream.name, 'dockerhub');
  assert.equal(router.route('owner/img', { prefix: 'GHCR' }).upstream.name, 'ghcr');
  assert.equal(router.route('owner/img', { prefix: 'GHCR.io' }).upstream.name, 'ghcr');
});

test('aliases configured in mixed case match in lowercase', () => {
  const router = new UpstreamRouter(routingConfig());
  const k8s = router.route('k8s.gcr.io/pause');
  assert.equal(k8s.upstream.name, 'k8s');
  assert.equal(k8s.repository, 'pause');
  assert.equal(router.route('app', { ns: 'registry.internal' }).upstream.name, 'internal');
  assert.equal(router.lookup('REGISTRY.INTERNAL')?.name, 'internal');
});

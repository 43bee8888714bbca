import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UpstreamRouter } from '../../src/routing.ts';
import { routingConfig } from './support/routing-config.ts';

test('a first name segment that is an upstream name routes there and is stripped', () => {
  const router = new UpstreamRouter(routingConfig());
  const target = router.route('ghcr/owner/img');
  assert.equal(target.upstream.name, 'ghcr');
  assert.equal(target.repository, 'owner/img');
});

test('a first name segment that is an alias routes there and is stripped', () => {
  const router = new UpstreamRouter(routingConfig());
  const docker = router.route('docker.io/library/ubuntu');
  assert.equal(docker.upstream.name, 'dockerhub');
  assert.equal(docker.repository, 'library/ubuntu');
  const k8s = router.route('k8s.gcr.io/pause');
  assert.equal(k8s.upstream.name, 'k8s');
  assert.equal(k8s.repository, 'pause');
});

test('only the first segment is looked at', () => {
  const target = new UpstreamRouter(routingConfig()).route('someuser/ghcr.io/img');
  assert.equal(target.upstream.name, 'dockerhub');
  assert.equal(target.repository, 'someuser/ghcr.io/img');
});

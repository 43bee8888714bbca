import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UpstreamRouter } from '../../src/routing.ts';
import { routingConfig } from './support/routing-config.ts';

test('ns picks the upstream even when the first name segment is another alias', () => {
  const router = new UpstreamRouter(routingConfig());
  const target = router.route('ghcr.io/owner/img', { ns: 'docker.io' });
  assert.equal(target.upstream.name, 'dockerhub');
  assert.equal(target.repository, 'ghcr.io/owner/img');
});

test('containerd requests (ns=docker.io, library/NAME) go to Docker Hub unchanged', () => {
  const router = new UpstreamRouter(routingConfig());
  const target = router.route('library/ubuntu', { ns: 'docker.io' });
  assert.equal(target.upstream.name, 'dockerhub');
  assert.equal(target.repository, 'library/ubuntu');
});

test('ns=registry.k8s.io routes to k8s', () => {
  const target = new UpstreamRouter(routingConfig()).route('pause', { ns: 'registry.k8s.io' });
  assert.equal(target.upstream.name, 'k8s');
  assert.equal(target.repository, 'pause');
});

test('an empty ns is treated as absent', () => {
  const target = new UpstreamRouter(routingConfig()).route('ghcr.io/owner/img', { ns: '' });
  assert.equal(target.upstream.name, 'ghcr');
  assert.equal(target.repository, 'owner/img');
});

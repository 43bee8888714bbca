import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UpstreamRouter } from '../../src/routing.ts';
import { routingConfig } from './support/routing-config.ts';

test('single-segment names on Docker Hub get library/, by every rule', () => {
  const router = new UpstreamRouter(routingConfig());
  assert.equal(router.route('ubuntu').repository, 'library/ubuntu');
  assert.equal(router.route('dockerhub/ubuntu').repository, 'library/ubuntu');
  assert.equal(router.route('docker.io/ubuntu').repository, 'library/ubuntu');
  assert.equal(router.route('ubuntu', { ns: 'docker.io' }).repository, 'library/ubuntu');
  assert.equal(router.route('ubuntu', { prefix: 'dockerhub' }).repository, 'library/ubuntu');
});

test('multi-segment names on Docker Hub are not given library/', () => {
  const router = new UpstreamRouter(routingConfig());
  assert.equal(router.route('library/ubuntu').repository, 'library/ubuntu');
  assert.equal(router.route('bitnami/redis', { prefix: 'dockerhub' }).repository, 'bitnami/redis');
  assert.equal(router.route('docker.io/bitnami/redis').repository, 'bitnami/redis');
});

test('upstreams without defaultNamespace never get library/', () => {
  const router = new UpstreamRouter(routingConfig());
  assert.equal(router.route('ghcr/app').repository, 'app');
  assert.equal(router.route('pause', { prefix: 'k8s' }).repository, 'pause');
  assert.equal(router.route('app', { ns: '127.0.0.1:5001' }).repository, 'app');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { DEFAULT_CONFIG_PATH, loadConfig } from '../../src/config.ts';

test('config/default.yaml loads with no environment overrides', () => {
  const config = loadConfig(DEFAULT_CONFIG_PATH, {});
  assert.deepEqual(config.listen, { host: '127.0.0.1', port: 5000 });
  assert.equal(config.logLevel, 'info');
  assert.equal(config.defaultUpstream, 'dockerhub');
  assert.equal(config.storage.path, path.resolve(process.cwd(), 'data'));
  assert.deepEqual(config.metadata, { tagRecordTtl: 30 * 86_400_000 });
  assert.deepEqual(config.upstreamTimeouts, { connect: 10_000, idle: 30_000, minRate: 16 * 1024 });
  assert.deepEqual(Object.keys(config.upstreams).sort(), ['dockerhub', 'gcr', 'ghcr', 'k8s', 'quay']);
});

test('the shipped Docker Hub upstream has its aliases and library namespace', () => {
  const hub = loadConfig(DEFAULT_CONFIG_PATH, {}).upstreams.dockerhub;
  assert.ok(hub);
  assert.equal(hub.name, 'dockerhub');
  assert.equal(hub.url, 'https://registry-1.docker.io');
  assert.deepEqual(hub.aliases, ['docker.io', 'index.docker.io', 'registry-1.docker.io']);
  assert.equal(hub.defaultNamespace, 'library');
  assert.equal(hub.tagTtl, 300_000);
  assert.equal(hub.username, undefined);
});

test('the shipped k8s upstream answers to both of its hosts', () => {
  const k8s = loadConfig(DEFAULT_CONFIG_PATH, {}).upstreams.k8s;
  assert.equal(k8s?.url, 'https://registry.k8s.io');
  assert.deepEqual(k8s?.aliases, ['registry.k8s.io', 'k8s.gcr.io']);
  assert.equal(k8s?.defaultNamespace, undefined);
});

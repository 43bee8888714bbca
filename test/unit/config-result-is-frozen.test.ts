import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_CONFIG_PATH, loadConfig } from '../../src/config.ts';

test('the config and everything in it is frozen', () => {
  const config = loadConfig(DEFAULT_CONFIG_PATH, {});
  for (const [label, value] of Object.entries({
    config,
    listen: config.listen,
    storage: config.storage,
    metadata: config.metadata,
    upstreamTimeouts: config.upstreamTimeouts,
    upstreams: config.upstreams,
    dockerhub: config.upstreams.dockerhub,
    aliases: config.upstreams.dockerhub?.aliases,
  })) {
    assert.ok(Object.isFrozen(value), `${label} is frozen`);
  }
});

test('writes are refused and leave the values unchanged', () => {
  const config = loadConfig(DEFAULT_CONFIG_PATH, {});
  assert.equal(Reflect.set(config, 'defaultUpstream', 'ghcr'), false);
  assert.equal(Reflect.set(config.upstreams, 'evil', { url: 'https://evil.example' }), false);
  assert.equal(Reflect.set(config.listen, 'port', 1), false);
  assert.equal(config.defaultUpstream, 'dockerhub');
  assert.equal(config.upstreams.evil, undefined);
  assert.equal(config.listen.port, 5000);
});

test("an upstream's aliases cannot be changed after load", () => {
  const config = loadConfig(DEFAULT_CONFIG_PATH, {});
  const aliases = config.upstreams.dockerhub?.aliases ?? [];
  assert.equal(Reflect.set(aliases, '0', 'evil.example.com'), false);
  assert.throws(() => aliases.push('evil.example.com'), TypeError);
  assert.deepEqual(config.upstreams.dockerhub?.aliases, ['docker.io', 'index.docker.io', 'registry-1.docker.io']);
});

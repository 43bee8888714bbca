import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ConfigError, DEFAULT_CONFIG_PATH, loadConfig } from '../../src/config.ts';

test('PULLTHROUGH_* variables override listen, storage, redis and default upstream', () => {
  const config = loadConfig(DEFAULT_CONFIG_PATH, {
    PULLTHROUGH_LISTEN: '0.0.0.0:6000',
    PULLTHROUGH_STORAGE_PATH: '/var/lib/pullthrough',
    PULLTHROUGH_REDIS_URL: 'redis://127.0.0.1:6379/2',
    PULLTHROUGH_DEFAULT_UPSTREAM: 'ghcr',
  });
  assert.deepEqual(config.listen, { host: '0.0.0.0', port: 6000 });
  assert.equal(config.storage.path, '/var/lib/pullthrough');
  assert.deepEqual(config.metadata, { redis: 'redis://127.0.0.1:6379/2', tagRecordTtl: 30 * 86_400_000 });
  assert.equal(config.defaultUpstream, 'ghcr');
});

test('a relative PULLTHROUGH_STORAGE_PATH resolves against the working directory', () => {
  const config = loadConfig(DEFAULT_CONFIG_PATH, { PULLTHROUGH_STORAGE_PATH: 'cache-dir' });
  assert.equal(config.storage.path, path.resolve(process.cwd(), 'cache-dir'));
});

test('empty variables are ignored', () => {
  const config = loadConfig(DEFAULT_CONFIG_PATH, { PULLTHROUGH_LISTEN: '', PULLTHROUGH_DEFAULT_UPSTREAM: '' });
  assert.deepEqual(config.listen, { host: '127.0.0.1', port: 5000 });
  assert.equal(config.defaultUpstream, 'dockerhub');
});

test('overridden values are validated like the file', () => {
  assert.throws(() => loadConfig(DEFAULT_CONFIG_PATH, { PULLTHROUGH_DEFAULT_UPSTREAM: 'nowhere', PULLTHROUGH_REDIS_URL: 'http://x' }), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.ok(error.problems.some((p) => p.includes('defaultUpstream') && p.includes('nowhere')), error.problems.join('\n'));
    assert.ok(error.problems.some((p) => p.includes('metadata.redis')), error.problems.join('\n'));
    return true;
  });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, parseConfig } from '../../src/config.ts';
import { assertProblem, configProblems, MINIMAL } from './support/config-problems.ts';

test('metadata: null (all keys commented out) is the same as absent', () => {
  assert.deepEqual(parseConfig({ ...MINIMAL, metadata: null }).metadata, { tagRecordTtl: 30 * 86_400_000 });
  assert.deepEqual(parseConfig(MINIMAL).metadata, { tagRecordTtl: 30 * 86_400_000 });
});

test('a YAML file whose metadata section is only comments loads', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pullthrough-config-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'config.yaml');
  await writeFile(file, [
    'storage:', '  path: /tmp/x',
    'metadata:', '  # redis: redis://127.0.0.1:6379',
    'defaultUpstream: hub',
    'upstreams:', '  hub:', '    url: https://hub.example', '',
  ].join('\n'));
  const config = loadConfig(file, { PULLTHROUGH_REDIS_URL: 'rediss://cache.example:6380' });
  assert.deepEqual(config.metadata, { redis: 'rediss://cache.example:6380', tagRecordTtl: 30 * 86_400_000 });
  assert.deepEqual(loadConfig(file, {}).metadata, { tagRecordTtl: 30 * 86_400_000 });
});

test('a metadata.redis that is not a redis URL is a problem', () => {
  assertProblem(configProblems({ ...MINIMAL, metadata: { redis: 'http://127.0.0.1:6379' } }), 'metadata.redis', 'redis://');
});

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../src/config.ts';
import { runCli } from '../support/cli.ts';

test('config check prints the effective config as a file that loads to the same config', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pullthrough-config-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'config.yaml');
  await writeFile(file, 'listen: "[::1]:5001"\nstorage: { path: store, maxSize: 3GiB }\nupstreams:\n  corp: { url: "https://registry.corp.example", tagTtl: 90s }\n');
  const checked = await runCli(['config', 'check', '--config', file]);
  assert.equal(checked.status, 0, checked.stderr);
  assert.match(checked.stdout, /tagTtl: 1m30s/);
  assert.match(checked.stdout, /maxSize: 3GiB/);
  assert.doesNotMatch(checked.stdout, /name: corp/, 'upstream names are map keys only');
  const printed = path.join(dir, 'printed.yaml');
  await writeFile(printed, checked.stdout);
  assert.deepEqual(loadConfig(printed, {}), loadConfig(file, {}));
});

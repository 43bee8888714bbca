import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config.ts';

test('a missing file, broken YAML or a non-mapping is a ConfigError naming the file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pullthrough-config-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const broken = join(dir, 'broken.yaml');
  await writeFile(broken, 'listen: [unclosed\n');
  const list = join(dir, 'list.yaml');
  await writeFile(list, '- a\n- b\n');
  for (const file of [join(dir, 'absent.yaml'), broken, list]) {
    assert.throws(() => loadConfig(file, {}), (error: unknown) => {
      assert.ok(error instanceof ConfigError, `${file}: ${String(error)}`);
      assert.ok(error.message.includes(file), error.message);
      assert.ok(error.problems.length >= 1);
      return true;
    });
  }
});

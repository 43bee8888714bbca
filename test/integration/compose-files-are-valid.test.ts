import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';

// The compose files users start from must at least parse and resolve (docker-compose v1's `config`).

const run = promisify(execFile);

for (const file of ['docker-compose.yml', 'docker-compose.replicas.yml']) {
  test(`${file} is a valid compose file`, async () => {
    const { stdout } = await run('docker-compose', ['-f', file, 'config']);
    assert.match(stdout, /pullthrough/);
    assert.match(stdout, /redis:/);
  });
}

test('the replicas file runs three replicas on one blob volume and one Redis, behind the load balancer', async () => {
  const { stdout } = await run('docker-compose', ['-f', 'docker-compose.replicas.yml', 'config', '--services']);
  assert.deepEqual(stdout.trim().split('\n').sort(), ['lb', 'pullthrough-1', 'pullthrough-2', 'pullthrough-3', 'redis']);
  const { stdout: resolved } = await run('docker-compose', ['-f', 'docker-compose.replicas.yml', 'config']);
  assert.equal(resolved.match(/PULLTHROUGH_REDIS_URL: redis:\/\/redis:6379/g)?.length, 3);
  assert.equal(resolved.match(/- pullthrough-blobs:\/var\/lib\/pullthrough/g)?.length, 3);
});

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { startMirror, type TestMirror } from '../support/mirror.ts';

// The container HEALTHCHECK command: it must follow the configured address, or a mirror started on another
// port is reported unhealthy (and restarted) while it serves fine.

const HEALTHCHECK = path.resolve('src/healthcheck.ts');
let mirror: TestMirror;

before(async () => {
  mirror = await startMirror({ hub: { url: 'http://127.0.0.1:1' } });
});
after(async () => {
  await mirror.close();
});

/** Exit status of the probe; run asynchronously, since the mirror answering it lives in this process. */
function probe(listen: string): Promise<number | null> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, ['--import', 'tsx', HEALTHCHECK], {
      env: { ...process.env, PULLTHROUGH_LISTEN: listen, PULLTHROUGH_CONFIG: '' },
      timeout: 15_000,
    });
    child.on('exit', (code) => resolve(code));
  });
}

test('healthy on the configured port (a wildcard listen address is probed on loopback), unhealthy elsewhere', async () => {
  const port = new URL(mirror.url).port;
  assert.equal(await probe(`127.0.0.1:${port}`), 0);
  assert.equal(await probe(`0.0.0.0:${port}`), 0);
  assert.equal(await probe('127.0.0.1:1'), 1);
});

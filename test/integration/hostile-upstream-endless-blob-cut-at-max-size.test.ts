import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { BaitServer } from '../support/bait-server.ts';
import { filesUnder } from '../support/files-under.ts';
import { HostileRegistry } from '../support/hostile-registry.ts';
import { endlessBlob } from '../support/hostile/endless-blob.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

// Issue 9: an upstream whose blob answer has no Content-Length and never ends. The transfer is cut at
// limits.maxBlobSize: the client's download fails having received no more than that, nothing is kept,
// and the mirror stops reading the upstream.

const MAX_BLOB = 1024 * 1024;
/** Reading stops here even if the mirror never cuts (the code before the fix): the test fails, not hangs. */
const GIVE_UP_AFTER = 16 * MAX_BLOB;
const DIGEST = `sha256:${'cd'.repeat(32)}`;
const attack = endlessBlob();
let bait: BaitServer;
let upstream: HostileRegistry;
let mirror: TestMirror;

before(async () => {
  bait = await new BaitServer().start();
  upstream = await new HostileRegistry(attack.scenario, bait).start();
  mirror = await startMirror({ hub: { url: upstream.url } }, { extra: { limits: { maxBlobSize: MAX_BLOB } } });
});
after(async () => {
  await mirror.close();
  await upstream.stop();
  await bait.stop();
});

test('an endless blob is cut at maxBlobSize: the client transfer fails, nothing is kept, the upstream is dropped', async () => {
  const controller = new AbortController();
  const response = await fetch(`${mirror.url}/v2/evil/app/blobs/${DIGEST}`, { signal: controller.signal });
  let received = 0;
  let failed = false;
  try {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      received += chunk.length;
      if (received > GIVE_UP_AFTER) {
        controller.abort();
        break;
      }
    }
  } catch {
    failed = true;
  }
  assert.ok(received <= MAX_BLOB, `client received ${received} bytes, more than maxBlobSize ${MAX_BLOB}`);
  assert.ok(failed || response.status !== 200, 'the client transfer completed as if the blob were whole');

  const parsed = { algorithm: 'sha256' as const, hex: DIGEST.slice(7), text: DIGEST };
  await mirror.app.mirror.fills.get(parsed)?.finished.catch(() => undefined);
  for (let i = 0; i < 50 && attack.stats.closedByMirror < 1; i++) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(attack.stats.closedByMirror, 1, 'the mirror kept reading the endless body');
  assert.deepEqual(await filesUnder(path.join(mirror.storage, 'blobs')), [], 'nothing kept');
  assert.deepEqual(await filesUnder(path.join(mirror.storage, 'tmp')), [], 'nothing left in tmp/');
  // What the upstream got out before the cut: the limit plus what sockets and the memory window buffer.
  process.stdout.write(`# endless blob: upstream sent ${attack.stats.bytesSent} bytes before the mirror hung up (maxBlobSize ${MAX_BLOB})\n`);
});

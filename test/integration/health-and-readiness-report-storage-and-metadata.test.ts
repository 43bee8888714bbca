import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, test } from 'node:test';
import Keyv from 'keyv';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

const mirrors: TestMirror[] = [];
let upstream: MemoryRegistry | undefined;
after(async () => {
  for (const mirror of mirrors) await mirror.close();
  await upstream?.stop();
});

async function mirrorWith(keyv?: Keyv): Promise<TestMirror> {
  upstream ??= await new MemoryRegistry().start();
  const mirror = await startMirror({ hub: { url: upstream.url } }, keyv ? { keyv } : {});
  mirrors.push(mirror);
  return mirror;
}

test('/healthz and /readyz answer 200 with JSON when storage and metadata work', async () => {
  const mirror = await mirrorWith();
  const health = await fetch(`${mirror.url}/healthz`);
  assert.equal(health.status, 200);
  assert.deepEqual(await health.json(), { status: 'ok' });
  const ready = await fetch(`${mirror.url}/readyz`);
  assert.equal(ready.status, 200);
  assert.match(ready.headers.get('content-type') ?? '', /application\/json/);
  assert.deepEqual(await ready.json(), { status: 'ready', checks: { storage: { ok: true }, metadata: { ok: true } } });
});

test('/readyz answers 503 naming storage when the store cannot take a write', async () => {
  const mirror = await mirrorWith();
  // A file where tmp/ should be: every write into it fails (permissions would not stop root).
  const tmp = path.join(mirror.storage, 'tmp');
  await rm(tmp, { recursive: true, force: true });
  await writeFile(tmp, 'not a directory');
  const ready = await fetch(`${mirror.url}/readyz`);
  assert.equal(ready.status, 503);
  const body = (await ready.json()) as { checks: { storage: { ok: boolean; error?: string }; metadata: { ok: boolean } } };
  assert.equal(body.checks.storage.ok, false);
  assert.equal(body.checks.storage.error, 'ENOTDIR');
  assert.equal(body.checks.metadata.ok, true);
  assert.equal((await fetch(`${mirror.url}/healthz`)).status, 200, 'alive all the same');
  await rm(tmp, { force: true });
  await mkdir(tmp);
  assert.equal((await fetch(`${mirror.url}/readyz`)).status, 200, 'ready again once storage works');
});

test('/readyz answers 503 naming metadata when the metadata store does not answer', async () => {
  const hanging = new Map<string, unknown>();
  const store = Object.assign(hanging, { get: () => new Promise<never>(() => undefined) });
  const mirror = await mirrorWith(new Keyv({ store }));
  const ready = await fetch(`${mirror.url}/readyz`);
  assert.equal(ready.status, 503);
  const body = (await ready.json()) as { checks: { storage: { ok: boolean }; metadata: { ok: boolean } } };
  assert.equal(body.checks.metadata.ok, false);
  assert.equal(body.checks.storage.ok, true);
});

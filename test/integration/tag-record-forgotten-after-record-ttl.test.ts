import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

// Issue 9, finding 13: tag records expire after metadata.tagRecordTtl, so Redis or the embedded store
// does not grow for ever. Each revalidation rewrites the record, so a tag in use never expires.

let upstream: MemoryRegistry;
let busy: MemoryRegistry;
let mirror: TestMirror | undefined;

before(async () => {
  upstream = await new MemoryRegistry().start();
  busy = await new MemoryRegistry().start();
  mirror = await startMirror(
    { hub: { url: upstream.url, tagTtl: '1h' }, busy: { url: busy.url, tagTtl: '300ms' } },
    { extra: { metadata: { tagRecordTtl: '1200ms' } } },
  );
});
after(async () => {
  await mirror?.close();
  await upstream.stop();
  await busy.stop();
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function pull(path: string): Promise<void> {
  const answer = await fetch(`${mirror?.url}${path}`);
  assert.equal(answer.status, 200, path);
  await answer.arrayBuffer();
}

test('a tag record not confirmed within tagRecordTtl is forgotten', async () => {
  upstream.addImage('idle/app', 'v1');
  await pull('/hub/v2/idle/app/manifests/v1');
  assert.ok(await mirror?.app.mirror.metadata.getTag('hub', 'idle/app', 'v1'));
  upstream.resetCounts();
  await pull('/hub/v2/idle/app/manifests/v1');
  assert.equal(upstream.requests.length, 0, 'within the freshness window');
  await sleep(1300);
  assert.equal(await mirror?.app.mirror.metadata.getTag('hub', 'idle/app', 'v1'), undefined, 'the record expired');
  await pull('/hub/v2/idle/app/manifests/v1');
  assert.equal(upstream.count({ method: 'GET', kind: 'manifest' }), 1, 'fetched again');
});

test('a tag revalidated more often than tagRecordTtl keeps its record', async () => {
  busy.addImage('busy/app', 'v1');
  await pull('/busy/v2/busy/app/manifests/v1');
  busy.resetCounts();
  for (let i = 0; i < 5; i++) {
    await sleep(450);
    await pull('/busy/v2/busy/app/manifests/v1');
  }
  assert.equal(busy.count({ method: 'GET', kind: 'manifest' }), 0, 'never re-fetched: each HEAD renewed the record');
  assert.equal(busy.count({ method: 'HEAD', kind: 'manifest' }), 5);
});

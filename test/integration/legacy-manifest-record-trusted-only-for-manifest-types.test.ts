import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import Keyv from 'keyv';
import { DOCKER_MANIFEST } from '../../src/manifest-media-types.ts';
import { parseDigest } from '../../src/reference.ts';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

// Issue 9: versions before it recorded one media type per digest (`manifest:<digest>`) for all
// upstreams. After an upgrade such a record still serves a kept manifest (no upstream request) when it
// names a known manifest type; one that names anything else (text/html from a hostile upstream) is
// ignored, and the route's upstream is asked instead.

let upstream: MemoryRegistry;
let mirror: TestMirror;
const keyv = new Keyv();

before(async () => {
  upstream = await new MemoryRegistry().start();
  upstream.tags.set('old/app', new Map());
  mirror = await startMirror({ hub: { url: upstream.url } }, { keyv });
});
after(async () => {
  await mirror.close();
  await upstream.stop();
});

async function keepWithLegacyRecord(mediaType: string): Promise<string> {
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: DOCKER_MANIFEST, layers: [], n: mediaType }));
  const text = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  await mirror.app.mirror.store.put(parseDigest(text) ?? assert.fail(), bytes);
  await keyv.set(`manifest:${text}`, { mediaType });
  return text;
}

test('a legacy record naming a manifest type serves the kept manifest without asking upstream', async () => {
  const digest = await keepWithLegacyRecord(DOCKER_MANIFEST);
  upstream.resetCounts();
  const answer = await fetch(`${mirror.url}/v2/old/app/manifests/${digest}`);
  assert.equal(answer.status, 200);
  assert.equal(answer.headers.get('content-type'), DOCKER_MANIFEST);
  await answer.arrayBuffer();
  assert.equal(upstream.requests.length, 0);
});

test('a legacy record naming text/html is ignored: the upstream is asked, and says it has no such manifest', async () => {
  const digest = await keepWithLegacyRecord('text/html');
  upstream.resetCounts();
  const answer = await fetch(`${mirror.url}/v2/old/app/manifests/${digest}`);
  assert.equal(answer.status, 404);
  assert.doesNotMatch(answer.headers.get('content-type') ?? '', /html/);
  await answer.arrayBuffer();
  assert.equal(upstream.count({ kind: 'manifest' }), 1);
});

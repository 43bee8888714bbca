import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

let upstream: MemoryRegistry;
let mirror: TestMirror;

before(async () => {
  upstream = await new MemoryRegistry({ tokenAuth: true, paginateTags: true }).start();
  mirror = await startMirror({ hub: { url: upstream.url, aliases: ['docker.io'], defaultNamespace: 'library', tagTtl: '1h' } });
  for (const tag of ['a', 'b', 'c', 'd', 'e']) upstream.addImage('library/listed', tag);
});
after(async () => {
  await mirror.close();
  await upstream.stop();
});

test('tags/list forwards n and last only: not ?ns=, not other parameters', async () => {
  const response = await fetch(`${mirror.url}/v2/library/listed/tags/list?ns=docker.io&n=2&last=a&foo=bar&n2=9`);
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { name: 'library/listed', tags: ['b', 'c'] });
  const listings = upstream.requests.filter((r) => r.kind === 'tags');
  assert.deepEqual(listings.map((r) => r.path), ['/v2/library/listed/tags/list?n=2&last=a']);
  assert.match(listings[0]?.authorization ?? '', /^Bearer t-/, 'authenticated as the mirror');
  assert.equal(upstream.count({ kind: 'manifest' }), 0);
});

test('tags/list is never cached: each listing goes upstream once', async () => {
  upstream.resetCounts();
  for (let i = 0; i < 2; i++) {
    const response = await fetch(`${mirror.url}/v2/listed/tags/list`);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { name: 'library/listed', tags: ['a', 'b', 'c', 'd', 'e'] });
  }
  const listings = upstream.requests.filter((r) => r.kind === 'tags');
  assert.deepEqual(listings.map((r) => r.path), ['/v2/library/listed/tags/list', '/v2/library/listed/tags/list']);
  assert.equal(upstream.count({ kind: 'token' }), 0, 'the token for this repository is reused');
});

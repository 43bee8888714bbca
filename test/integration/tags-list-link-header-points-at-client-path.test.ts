import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

let upstream: MemoryRegistry;
let mirror: TestMirror;

before(async () => {
  upstream = await new MemoryRegistry({ paginateTags: true }).start();
  mirror = await startMirror({ hub: { url: upstream.url, defaultNamespace: 'library' } });
  for (const tag of ['1.0', '1.1', '2.0', '2.1', '3.0']) upstream.addImage('library/paged', tag);
});
after(async () => {
  await mirror.close();
  await upstream.stop();
});

/** Follows rel="next" links from `start` (a path on the mirror); returns every page's tags and link. */
async function walk(start: string): Promise<{ tags: string[]; links: Array<string | null> }> {
  const tags: string[] = [];
  const links: Array<string | null> = [];
  let next: string | undefined = start;
  while (next !== undefined) {
    const response: Response = await fetch(new URL(next, mirror.url));
    assert.equal(response.status, 200, next);
    const body = (await response.json()) as { tags: string[] };
    tags.push(...body.tags);
    const link = response.headers.get('link');
    links.push(link);
    next = link === null ? undefined : /^<([^>]+)>;\s*rel="next"$/.exec(link)?.[1];
    assert.ok(link === null || next !== undefined, `a well-formed Link header: ${link}`);
    assert.ok(links.length < 10, 'pagination ends');
  }
  return { tags, links };
}

test('under a /<alias>/v2/ prefix, the upstream Link header is rewritten to the path the client used', async () => {
  const { tags, links } = await walk('/hub/v2/paged/tags/list?n=2');
  assert.deepEqual(tags, ['1.0', '1.1', '2.0', '2.1', '3.0']);
  assert.deepEqual(links, [
    '</hub/v2/paged/tags/list?n=2&last=1.1>; rel="next"',
    '</hub/v2/paged/tags/list?n=2&last=2.1>; rel="next"',
    null,
  ]);
  assert.deepEqual(
    upstream.requests.filter((r) => r.kind === 'tags').map((r) => r.path),
    ['/v2/library/paged/tags/list?n=2', '/v2/library/paged/tags/list?n=2&last=1.1', '/v2/library/paged/tags/list?n=2&last=2.1'],
  );
});

test('without a prefix, the Link names the repository as the client spelled it', async () => {
  const { tags, links } = await walk('/v2/paged/tags/list?n=3');
  assert.deepEqual(tags, ['1.0', '1.1', '2.0', '2.1', '3.0']);
  assert.deepEqual(links, ['</v2/paged/tags/list?n=3&last=2.0>; rel="next"', null]);
});

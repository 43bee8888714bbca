import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { BaitServer } from '../support/bait-server.ts';
import { HostileRegistry } from '../support/hostile-registry.ts';
import { HOSTILE_HEADERS, hostileListingHeaders } from '../support/hostile/hostile-listing-headers.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

// Issue 9: tags/list and referrers are passed through, but only with an allow-list of headers: the
// type the API defines, never a Link to another host, never CORS or cookies, and never a redirect.

let bait: BaitServer;
let upstream: HostileRegistry;
let mirror: TestMirror;

before(async () => {
  bait = await new BaitServer().start();
  upstream = await new HostileRegistry(hostileListingHeaders, bait).start();
  mirror = await startMirror({ hostile: { url: upstream.url } });
});
after(async () => {
  await mirror.close();
  await upstream.stop();
  await bait.stop();
});

function assertNoHostileHeaders(response: Response, what: string): void {
  for (const name of Object.keys(HOSTILE_HEADERS)) assert.equal(response.headers.get(name), null, `${what}: ${name} not passed`);
  assert.equal(response.headers.get('location'), null, `${what}: no Location`);
  assert.ok(!(response.headers.get('link') ?? '').includes('127.0.0.2'), `${what}: no Link to another host`);
  assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
}

test('tags/list: HTML type, CORS, cookies and a foreign Link are not passed', async () => {
  upstream.honest.addImage('team/app', 'v1');
  const response = await fetch(`${mirror.url}/v2/team/app/tags/list`);
  await response.arrayBuffer();
  assertNoHostileHeaders(response, 'tags/list');
  assert.equal(response.headers.get('link'), null, 'a Link to another host is dropped, not rewritten');
  assert.match(response.headers.get('content-type') ?? '', /^application\/json\b/, 'never text/html');
});

test('referrers: a 302 from the upstream is not passed to the client, and not followed to the bait', async () => {
  const response = await fetch(`${mirror.url}/v2/team/app/referrers/sha256:${'a'.repeat(64)}`, { redirect: 'manual' });
  await response.arrayBuffer();
  assert.equal(response.status, 503);
  assertNoHostileHeaders(response, 'referrers');
  assert.deepEqual(bait.hits, [], 'the redirect target was not contacted');
});

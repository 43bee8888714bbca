import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { parseDigest } from '../../src/reference.ts';
import { BaitServer, BAIT_BODY } from '../support/bait-server.ts';
import { HostileRegistry } from '../support/hostile-registry.ts';
import { HTML_DIGEST, manifestServedAsHtml } from '../support/hostile/manifest-served-as-html.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

// Issue 9, finding 2: an upstream answering a manifest request with an HTML page (a script inside) is
// refused: the mirror serves manifests only with the known manifest media types, never text/html, and
// keeps nothing of such an answer — by tag, by digest, on GET or HEAD.

let bait: BaitServer;
let hostile: HostileRegistry;
let mirror: TestMirror;

before(async () => {
  bait = await new BaitServer().start();
  hostile = await new HostileRegistry(manifestServedAsHtml, bait).start();
  hostile.honest.addImage('evil/app', 'v1');
  mirror = await startMirror({ evil: { url: hostile.url, tagTtl: '1h' } });
});
after(async () => {
  await mirror.close();
  await hostile.stop();
  await bait.stop();
});

test('an HTML answer to a manifest request is never served and never kept', async () => {
  for (const reference of ['v1', HTML_DIGEST]) {
    for (const method of ['GET', 'HEAD']) {
      const answer = await fetch(`${mirror.url}/v2/evil/app/manifests/${reference}`, { method });
      const body = await answer.text();
      assert.notEqual(answer.status, 200, `${method} ${reference}`);
      assert.doesNotMatch(answer.headers.get('content-type') ?? '', /html/, `${method} ${reference}`);
      assert.ok(!body.includes('<script>'), `${method} ${reference}: ${body}`);
      assert.match(answer.headers.get('content-type') ?? '', /^application\/json/, 'the error envelope');
    }
  }
  const digest = parseDigest(HTML_DIGEST) ?? assert.fail();
  assert.equal(await mirror.app.mirror.store.stat(digest), undefined, 'the HTML body was not kept');
  assert.equal(bait.hits.length, 0);

  // And asked again, it is still not served from anything the first answers left behind.
  const again = await fetch(`${mirror.url}/v2/evil/app/manifests/v1`);
  assert.notEqual(again.status, 200);
  assert.ok(!(await again.text()).includes(BAIT_BODY));
});

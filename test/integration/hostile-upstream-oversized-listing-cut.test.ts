import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { BaitServer } from '../support/bait-server.ts';
import { HostileRegistry } from '../support/hostile-registry.ts';
import { OVERSIZED_LISTING_BYTES, oversizedListing } from '../support/hostile/oversized-listing.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';
import { MAX_LISTING_BYTES } from '../../src/routes/passthrough.ts';

// Issue 9: a listing is relayed up to MAX_LISTING_BYTES (4 MiB); a longer one is cut, never relayed whole.

let bait: BaitServer;
let upstream: HostileRegistry;
let mirror: TestMirror;

before(async () => {
  bait = await new BaitServer().start();
  upstream = await new HostileRegistry(oversizedListing, bait).start();
  mirror = await startMirror({ hostile: { url: upstream.url } });
});
after(async () => {
  await mirror.close();
  await upstream.stop();
  await bait.stop();
});

test('a 6 MiB tags/list reaches the client as at most 4 MiB and then a cut connection', async () => {
  assert.ok(OVERSIZED_LISTING_BYTES > MAX_LISTING_BYTES);
  upstream.honest.addImage('team/app', 'v1');
  const response = await fetch(`${mirror.url}/v2/team/app/tags/list`);
  let received = 0;
  const whole = await (async () => {
    try {
      for await (const chunk of response.body ?? []) received += (chunk as Uint8Array).length;
      return true;
    } catch {
      return false;
    }
  })();
  assert.equal(whole, false, 'the body does not end as if it were complete');
  assert.ok(received <= MAX_LISTING_BYTES, `received ${received} bytes`);
});

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { type Account, basic, writeHtpasswdFile } from '../support/client-accounts.ts';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

// Issue 9: a bearer token from /token stayed valid for its whole lifetime after its account was removed
// from the htpasswd file. The file is re-read when it changes (looked at every 2 s at most), and a
// token is accepted only while its account still exists.

const alice: Account = { username: 'alice', password: 'alice-secret' };
const bob: Account = { username: 'bob', password: 'bob-secret' };
/** The htpasswd file is looked at this often at most (src/auth/htpasswd.ts), plus scheduling slack. */
const RECHECK_MS = 2000 + 300;

let dir: string;
let file: string;
let upstream: MemoryRegistry;
let mirror: TestMirror;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'pullthrough-revoke-'));
  file = path.join(dir, 'htpasswd');
  await writeHtpasswdFile(file, [alice, bob]);
  upstream = await new MemoryRegistry().start();
  mirror = await startMirror({ hub: { url: upstream.url } }, { extra: { auth: { htpasswd: file, tokenTtl: '1h' } } });
});
after(async () => {
  await mirror.close();
  await upstream.stop();
  await rm(dir, { recursive: true, force: true });
});

async function tokenFor(account: Account): Promise<string> {
  const response = await fetch(`${mirror.url}/token?service=pullthrough`, { headers: { authorization: basic(account) } });
  assert.equal(response.status, 200);
  return ((await response.json()) as { token: string }).token;
}

async function status(authorization: string): Promise<number> {
  const response = await fetch(`${mirror.url}/v2/`, { headers: { authorization } });
  await response.arrayBuffer();
  return response.status;
}

test("a removed account's bearer token is refused once the file is re-read; others keep working", async () => {
  const aliceToken = await tokenFor(alice);
  const bobToken = await tokenFor(bob);
  assert.equal(await status(`Bearer ${bobToken}`), 200);

  await writeHtpasswdFile(file, [alice]);
  await sleep(RECHECK_MS);

  assert.equal(await status(`Bearer ${bobToken}`), 401, "bob's token died with his account");
  assert.equal(await status(basic(bob)), 401, "bob's password too");
  assert.equal(await status(`Bearer ${aliceToken}`), 200, "alice's token still works");

  // Put back, bob can log in again (and his old token is accepted again: it names an existing account).
  await writeHtpasswdFile(file, [alice, bob]);
  await sleep(RECHECK_MS);
  assert.equal(await status(basic(bob)), 200);
});

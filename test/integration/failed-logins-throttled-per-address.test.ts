import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { type Account, basic, writeHtpasswdFile } from '../support/client-accounts.ts';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';
import { requestFrom } from '../support/request-from.ts';

// Issue 9: failed logins were not throttled and each cost a full bcrypt check, so one client could
// guess passwords and burn CPU as fast as it liked. Past auth.maxFailedLogins failures within
// auth.failedLoginWindow, an address is answered 429 TOOMANYREQUESTS with Retry-After before any
// bcrypt work — on registry requests with Basic credentials and on /token alike. Other addresses are
// unaffected, and tokens already issued keep working (they cannot be guessed).

const MAX_FAILED = 10;
const alice: Account = { username: 'alice', password: `pw-${randomBytes(6).toString('hex')}` };
const wrong = basic({ ...alice, password: 'guess' });

let dir: string;
let upstream: MemoryRegistry;
let mirror: TestMirror;
/** bcrypt checks made so far (bcryptjs's default export is a plain object: wrapped to count). */
let bcryptChecks = 0;
const originalCompare = bcrypt.compare;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'pullthrough-throttle-'));
  await writeHtpasswdFile(path.join(dir, 'htpasswd'), [alice]);
  upstream = await new MemoryRegistry().start();
  mirror = await startMirror(
    { hub: { url: upstream.url } },
    { extra: { auth: { htpasswd: path.join(dir, 'htpasswd'), maxFailedLogins: MAX_FAILED, failedLoginWindow: '1m' } } },
  );
  bcrypt.compare = ((...args: Parameters<typeof originalCompare>) => {
    bcryptChecks += 1;
    return originalCompare(...args);
  }) as typeof originalCompare;
});
after(async () => {
  bcrypt.compare = originalCompare;
  await mirror.close();
  await upstream.stop();
  await rm(dir, { recursive: true, force: true });
});

function errorCode(body: string): string | undefined {
  return (JSON.parse(body) as { errors: Array<{ code: string }> }).errors[0]?.code;
}

test('100 failed logins from one address: 10 reach bcrypt, the rest get 429 with Retry-After', async (t) => {
  const before = bcryptChecks;
  // All at once: attempts still being checked count too, so a burst cannot slip past the limit.
  const answers = await Promise.all(Array.from({ length: 100 }, () => requestFrom(`${mirror.url}/v2/`, { from: '127.0.0.1', headers: { authorization: wrong } })));
  const statuses = answers.map((answer) => answer.status);
  assert.equal(statuses.filter((status) => status === 401).length, MAX_FAILED, 'the first ten are checked and refused');
  assert.equal(statuses.filter((status) => status === 429).length, 100 - MAX_FAILED, 'the rest are throttled');
  assert.equal(bcryptChecks - before, MAX_FAILED, 'throttled attempts cost no bcrypt check');

  const throttled = answers.filter((answer) => answer.status === 429);
  for (const answer of throttled) {
    assert.equal(errorCode(answer.body), 'TOOMANYREQUESTS');
    const retryAfter = Number(answer.headers['retry-after']);
    assert.ok(retryAfter > 0 && retryAfter <= 60, `Retry-After ${answer.headers['retry-after']}`);
  }

  // Measured one at a time: a throttled answer does no bcrypt work, so it is quick.
  const times: number[] = [];
  for (let i = 0; i < 10; i++) times.push((await requestFrom(`${mirror.url}/v2/`, { from: '127.0.0.1', headers: { authorization: wrong } })).ms);
  times.sort((a, b) => a - b);
  t.diagnostic(`median throttled answer ${times[5]?.toFixed(1)} ms`);
});

test('while throttled, even the right password from that address is refused, unchecked', async () => {
  const before = bcryptChecks;
  const good = await requestFrom(`${mirror.url}/v2/`, { from: '127.0.0.1', headers: { authorization: basic(alice) } });
  assert.equal(good.status, 429);
  const token = await requestFrom(`${mirror.url}/token?service=pullthrough`, { from: '127.0.0.1', headers: { authorization: basic(alice) } });
  assert.equal(token.status, 429, 'GET /token is throttled too');
  const form = new URLSearchParams({ grant_type: 'password', username: 'alice', password: alice.password }).toString();
  const grant = await requestFrom(`${mirror.url}/token`, {
    from: '127.0.0.1',
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form,
  });
  assert.equal(grant.status, 429, 'the password grant is throttled too');
  assert.equal(bcryptChecks - before, 0, 'no bcrypt check while throttled');
});

test('another address is unaffected, and a token issued to it works from the throttled one', async () => {
  const issued = await requestFrom(`${mirror.url}/token?service=pullthrough`, { from: '127.0.0.2', headers: { authorization: basic(alice) } });
  assert.equal(issued.status, 200);
  const { token } = JSON.parse(issued.body) as { token: string };
  assert.equal((await requestFrom(`${mirror.url}/v2/`, { from: '127.0.0.2', headers: { authorization: basic(alice) } })).status, 200);
  // A success elsewhere resets nothing here.
  assert.equal((await requestFrom(`${mirror.url}/v2/`, { from: '127.0.0.1', headers: { authorization: basic(alice) } })).status, 429);
  // A signed token cannot be guessed, so it is not a login attempt and is not throttled.
  assert.equal((await requestFrom(`${mirror.url}/v2/`, { from: '127.0.0.1', headers: { authorization: `Bearer ${token}` } })).status, 200);
  // Anonymous requests are not failed logins either: clients always try without credentials first.
  assert.equal((await requestFrom(`${mirror.url}/v2/`, { from: '127.0.0.2' })).status, 401);
});

test('failed password grants on POST /token count towards the same limit', async () => {
  const form = new URLSearchParams({ grant_type: 'password', username: 'alice', password: 'guess' }).toString();
  const statuses: number[] = [];
  for (let i = 0; i < MAX_FAILED + 2; i++) {
    const answer = await requestFrom(`${mirror.url}/token`, {
      from: '127.0.0.3',
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form,
    });
    statuses.push(answer.status);
  }
  assert.deepEqual(statuses, [...Array(MAX_FAILED).fill(401), 429, 429]);
});

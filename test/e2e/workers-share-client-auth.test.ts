import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { type Account, basic, writeHtpasswdFile } from '../support/client-accounts.ts';
import type { MirrorProcess } from './support/mirror-process.ts';
import { answeredBy, getOnNewConnection, startMirrorWorkers } from './support/mirror-workers.ts';
import { makeTempDir, removeTempDir } from './support/temp-dir.ts';

// Client auth under `workers: 2` (issue 11). A token from one worker's /token is good on every worker
// (the primary gives them one signing key when none is configured; with a key per process, about half of
// the requests would get 401). Failed logins are counted per worker, so each gets a share of
// auth.maxFailedLogins: an address's wrong passwords checked per window stay at the configured number,
// not N times it.

const MAX_FAILED = 4;
const alice: Account = { username: 'alice', password: `pw-${randomBytes(6).toString('hex')}` };
let dir: string;
let mirror: MirrorProcess | undefined;
let port: number;

before(async () => {
  dir = await makeTempDir('workers-auth');
  await writeHtpasswdFile(path.join(dir, 'htpasswd'), [alice]);
  ({ mirror, port } = await startMirrorWorkers(dir, 2, {
    storage: { path: path.join(dir, 'store') },
    auth: { htpasswd: path.join(dir, 'htpasswd'), maxFailedLogins: MAX_FAILED, failedLoginWindow: '5m' },
    upstreams: { hub: { url: 'http://127.0.0.1:9' } },
  }));
});
after(async () => {
  await mirror?.proc.stop(2_000);
  await removeTempDir(dir);
});

test('a token issued by one worker is accepted by every worker', async () => {
  const issued = await getOnNewConnection(port, '/token?service=pullthrough', { authorization: basic(alice) });
  assert.equal(issued.status, 200);
  const { token } = JSON.parse(issued.body.toString()) as { token: string };
  // The primary deals connections to whichever worker is free: ask in rounds until both have answered.
  let sent = 0;
  for (let round = 0; round < 10 && (await answeredBy(dir, '/v2/', sent)).size < 2; round++) {
    const answers = await Promise.all(Array.from({ length: 16 }, () => getOnNewConnection(port, '/v2/', { authorization: `Bearer ${token}` })));
    sent += answers.length;
    assert.deepEqual(
      answers.map((answer) => answer.status),
      Array.from({ length: 16 }, () => 200),
    );
  }
  assert.equal((await answeredBy(dir, '/v2/', sent)).size, 2, 'both workers checked the token');
});

test('wrong passwords from one address: at most maxFailedLogins are checked across the workers, the rest 429', async () => {
  const wrong = basic({ ...alice, password: 'guess' });
  const statuses: number[] = [];
  for (let i = 0; i < 12; i++) statuses.push((await getOnNewConnection(port, '/token?service=pullthrough', { authorization: wrong })).status);
  assert.equal(statuses.filter((status) => status === 401).length, MAX_FAILED, statuses.join(' '));
  assert.equal(statuses.filter((status) => status === 429).length, 12 - MAX_FAILED);
});

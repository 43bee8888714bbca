import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { basic } from '../support/client-accounts.ts';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

// Issue 9: unknown users were checked against a cost-10 dummy hash while `htpasswd -B` writes cost-5
// entries, so an unknown user took many times longer to refuse than a known one with a wrong password:
// response times told which accounts exist. The dummy now has the cost of the file's entries. Cost 8
// here, so bcrypt dominates the request's own time and the test stays quick.

const COST = 8;
const ROUNDS = 21;

let dir: string;
let upstream: MemoryRegistry;
let mirror: TestMirror;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'pullthrough-timing-'));
  const lines = ['alice', 'bob', 'carol'].map((user) => `${user}:${bcrypt.hashSync(`${user}-secret`, COST).replace(/^\$2b\$/, '$2y$')}`);
  await writeFile(path.join(dir, 'htpasswd'), `${lines.join('\n')}\n`);
  upstream = await new MemoryRegistry().start();
  // The throttle is set high: this test is about the cost of each refusal, not how many there may be.
  mirror = await startMirror({ hub: { url: upstream.url } }, { extra: { auth: { htpasswd: path.join(dir, 'htpasswd'), maxFailedLogins: 1000 } } });
});
after(async () => {
  await mirror.close();
  await upstream.stop();
  await rm(dir, { recursive: true, force: true });
});

async function refusalMs(username: string): Promise<number> {
  const started = performance.now();
  const response = await fetch(`${mirror.url}/token?service=pullthrough`, { headers: { authorization: basic({ username, password: 'wrong-password' }) } });
  await response.arrayBuffer();
  assert.equal(response.status, 401);
  return performance.now() - started;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

test('refusing an unknown user takes as long as refusing a known one with a wrong password (< 20 %)', async (t) => {
  await refusalMs('alice'); // warm-up: connection, JIT
  const known: number[] = [];
  const unknown: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    // Interleaved, so a busy moment on the machine hits both alike.
    known.push(await refusalMs(['alice', 'bob', 'carol'][i % 3] as string));
    unknown.push(await refusalMs(`nobody-${i}`));
  }
  const k = median(known);
  const u = median(unknown);
  const difference = Math.abs(k - u) / Math.max(k, u);
  t.diagnostic(`median refusal: known user ${k.toFixed(1)} ms, unknown user ${u.toFixed(1)} ms, difference ${(difference * 100).toFixed(1)} %`);
  assert.ok(difference < 0.2, `known ${k.toFixed(1)} ms vs unknown ${u.toFixed(1)} ms differ by ${(difference * 100).toFixed(1)} %`);
});

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { createServer } from 'node:tls';
import { TICKET_KEY_BYTES, TicketKeyRatchet } from '../../src/tls-ticket-keys.ts';

// TLS ticket keys step on a schedule (src/tls-ticket-keys.ts): processes given the same state step to the
// same keys at the same instants, and a key once replaced is wiped.

const PERIOD = 1000;

test('two ratchets from one state hold the same key at every instant, and a new one at each step', () => {
  const state = { key: randomBytes(TICKET_KEY_BYTES), rotatesAt: 10_000 };
  const a = new TicketKeyRatchet(state, PERIOD);
  const b = new TicketKeyRatchet(state, PERIOD);
  const first = Buffer.from(a.at(9_999).key);
  assert.deepEqual(first, state.key, 'before the first step: the key handed over');
  const seen = new Set([first.toString('hex')]);
  for (const now of [10_000, 10_500, 11_000, 15_250]) {
    const { key, rotatesAt } = a.at(now);
    assert.deepEqual(b.at(now).key, key, `both hold one key at ${now}`);
    assert.ok(rotatesAt > now && rotatesAt - now <= PERIOD, `next step within a period of ${now}: ${rotatesAt}`);
    seen.add(key.toString('hex'));
  }
  // 10_000 and 10_500 share a key; 11_000 is one more step; 15_250 is four more.
  assert.equal(seen.size, 4);
  // A process that missed steps (started late, or asleep) lands on the same key as one that took each.
  const late = new TicketKeyRatchet(state, PERIOD);
  assert.deepEqual(late.at(15_250).key, a.at(15_250).key);
  assert.equal(late.at(15_250).key.length, TICKET_KEY_BYTES);
});

test('a replaced key is wiped, and the caller\'s buffer is never touched', () => {
  const given = randomBytes(TICKET_KEY_BYTES);
  const copy = Buffer.from(given);
  const ratchet = new TicketKeyRatchet({ key: given, rotatesAt: 100 }, PERIOD);
  const held = ratchet.at(0).key;
  ratchet.at(100);
  assert.ok(held.every((byte) => byte === 0), 'the old key buffer is zeroed');
  assert.deepEqual(given, copy, 'the buffer handed in keeps its bytes');
});

test('drive gives the server the key in force at once and the next one at its instant', async () => {
  const keys: string[] = [];
  const ratchet = new TicketKeyRatchet({ key: randomBytes(TICKET_KEY_BYTES), rotatesAt: Date.now() + 150 }, 150);
  const stop = ratchet.drive({ setTicketKeys: (key) => keys.push(key.toString('hex')) });
  assert.equal(keys.length, 1, 'set at once');
  await new Promise((resolve) => setTimeout(resolve, 400));
  stop();
  const count = keys.length;
  assert.ok(count >= 3, `set ${count} times in 400 ms with a 150 ms period`);
  assert.equal(new Set(keys).size, count, 'each a new key');
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(keys.length, count, 'no more after stop');
});

test("node:cluster's own sharing neither carries the key to the primary nor installs another in its place", () => {
  // What a worker's TLS server does when it listens under node:cluster: it sends _getServerData() to the
  // primary and installs the primary's answer with _setServerData() — the first worker's key, kept by the
  // primary as long as the port is open.
  const server = createServer() as ReturnType<typeof createServer> & { _getServerData(): unknown; _setServerData(data: unknown): void };
  const ratchet = new TicketKeyRatchet({ key: randomBytes(TICKET_KEY_BYTES), rotatesAt: Date.now() + 60_000 }, 60_000);
  const stop = ratchet.drive(server);
  try {
    const ours = Buffer.from(server.getTicketKeys());
    assert.deepEqual(ours, ratchet.at().key);
    assert.equal(server._getServerData(), null, 'no key leaves for the primary');
    server._setServerData({ ticketKeys: randomBytes(TICKET_KEY_BYTES).toString('hex') });
    assert.deepEqual(server.getTicketKeys(), ours, 'the key in force stays');
  } finally {
    stop();
  }
});

test('a primary stepping on schedule holds the workers\' key, and wipes the one before', async () => {
  const first = randomBytes(TICKET_KEY_BYTES);
  const state = { key: first, rotatesAt: Date.now() + 100 };
  const primary = new TicketKeyRatchet(state, 100);
  const worker = new TicketKeyRatchet(state, 100);
  const held = primary.at().key;
  const stop = primary.stepOnSchedule();
  await new Promise((resolve) => setTimeout(resolve, 250));
  stop();
  assert.ok(held.every((byte) => byte === 0), 'the first key is wiped without anyone asking for a newer one');
  const now = Date.now();
  assert.deepEqual(primary.at(now).key, worker.at(now).key);
});

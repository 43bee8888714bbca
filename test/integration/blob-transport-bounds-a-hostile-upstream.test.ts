import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { RING_SLOTS, SLOT_BYTES, type HeldBytes } from '../../src/storage/receive-ring.ts';
import { readAll, type ScriptedUpstream, startScriptedUpstream, testTransport } from '../support/scripted-upstream.ts';
import { waitFor } from '../e2e/support/wait-for.ts';

// The upstream is not trusted (issue 9): what a hostile upstream (or a redirect target) sends the blob
// transport is bounded in time, in memory and in connections. A head that trickles forever, a body dripped
// below the floor rate, small unwanted answers that never end, endless 1xx answers, trailers or chunk
// framing, headers that repeat or name __proto__: each fails or is cut, none holds a fill (or a socket) for
// good. Against raw sockets on the loopback, so each of these can be sent exactly.

let upstream: ScriptedUpstream;
before(async () => {
  upstream = await startScriptedUpstream();
});
after(() => upstream.close());

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Writes `text` a byte at a time, `everyMs` apart, until the socket closes. */
async function trickle(socket: import('node:net').Socket, text: string, everyMs: number): Promise<void> {
  for (let i = 0; !socket.destroyed; i = (i + 1) % text.length) {
    socket.write(text[i] as string);
    await sleep(everyMs);
  }
}

test('a head that trickles in without end fails within the idle time-out, though bytes keep coming', async () => {
  upstream.script = (socket) => void trickle(socket, 'HTTP/1.1 200 OK\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n', 20);
  const client = testTransport({ idleTimeoutMs: 300 });
  const started = Date.now();
  try {
    await assert.rejects(client.get(upstream.url(), {}), /no whole answer head within 300 ms/);
    assert.ok(Date.now() - started < 1500, `failed after ${Date.now() - started} ms`);
  } finally {
    client.close();
  }
});

test('with the idle time-out off (0) there is no head deadline or floor rate either', async () => {
  upstream.script = (socket) => setTimeout(() => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi'), 50);
  const client = testTransport({ idleTimeoutMs: 0, minBytesPerSecond: 64 * 1024 });
  try {
    assert.equal((await readAll(await client.get(upstream.url(), {}))).toString(), 'hi');
  } finally {
    client.close();
  }
});

test('a body below the floor rate fails; one above it, or paused by its own consumer, does not', async () => {
  const client = testTransport({ idleTimeoutMs: 300, minBytesPerSecond: 64 * 1024 });
  try {
    // 1 KiB per 50 ms is 20 KiB/s: alive for the idle time-out, below the floor.
    upstream.script = (socket) => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n');
      void (async () => {
        while (!socket.destroyed) {
          socket.write(Buffer.alloc(1024, 1));
          await sleep(50);
        }
      })();
    };
    const slow = await client.get(upstream.url(), {});
    await assert.rejects(readAll(slow), /below upstreamTimeouts\.minRate \(65536 bytes\/s\)/);

    // The whole body at once, but its consumer holds every slot for longer than a rate window: waiting for
    // the download's own disk is not the upstream's slowness.
    const body = randomBytes(RING_SLOTS * SLOT_BYTES * 2);
    upstream.script = (socket) => socket.write(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`), body]));
    const response = await client.get(upstream.url(), {});
    const iterator = response.body[Symbol.asyncIterator]();
    const held: HeldBytes[] = [];
    let received = 0;
    let pending = iterator.next();
    // Hold every piece until nothing more comes for a second (the ring is full): over three rate windows.
    for (;;) {
      const next = await Promise.race([pending, sleep(1000).then(() => 'stalled' as const)]);
      if (next === 'stalled') break;
      assert.ok(!next.done, 'the ring stops before the body ends');
      held.push(next.value);
      received += next.value.bytes.length;
      pending = iterator.next();
    }
    for (const piece of held) piece.slot?.release();
    for (let next = await pending; !next.done; next = await iterator.next()) {
      received += next.value.bytes.length;
      next.value.slot?.release();
    }
    await response.body.whole;
    assert.equal(received, body.length);
  } finally {
    client.close();
  }
});

test('a small unwanted answer that does not end is cut, and no more than a few are drained at once', async () => {
  // A 404 announcing 1000 bytes that sends 10 and stalls: dropping it drains in the background only briefly.
  upstream.script = (socket) => socket.write('HTTP/1.1 404 Not Found\r\nContent-Length: 1000\r\n\r\n0123456789');
  const client = testTransport({ idleTimeoutMs: 30_000 });
  try {
    const opened = upstream.connections.length;
    const closed = (): number => upstream.connections.slice(opened).filter((socket) => socket.closed).length;
    const answers = await Promise.all(Array.from({ length: 24 }, () => client.get(upstream.url(), {})));
    assert.equal(upstream.connections.length - opened, 24);
    for (const answer of answers) await answer.body.dump();
    // Beyond the drain limit (16) a dropped answer closes its connection at once…
    await waitFor('drops beyond the drain limit to close', async () => (closed() >= 8 ? true : undefined), { timeoutMs: 500 });
    assert.equal(closed(), 8, 'the first 16 are drained, not closed at once');
    // …and the drained ones within the drain deadline (1 s), not the idle time-out (30 s).
    await waitFor('stalled drains to be cut', async () => (closed() === 24 ? true : undefined), { timeoutMs: 3000 });
    // A small answer that does end is drained and its connection kept for the next GET.
    upstream.script = (socket, request) => {
      if (request.includes('/gone')) socket.write('HTTP/1.1 404 Not Found\r\nContent-Length: 5\r\n\r\n');
      else socket.write('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nxyz');
      if (request.includes('/gone')) setTimeout(() => socket.write('gone!'), 20);
    };
    const before = upstream.connections.length;
    const gone = await client.get(new URL('/gone', upstream.url()), {});
    await gone.body.dump();
    await waitFor('the drained answer to end', async () => ((await gone.body.whole.then(() => true, () => false)) ? true : undefined), { timeoutMs: 2000 });
    assert.equal((await readAll(await client.get(upstream.url(), {}))).toString(), 'xyz');
    assert.equal(upstream.connections.length - before, 1, 'the drained connection was reused');
  } finally {
    client.close();
  }
});

test('endless 1xx answers, a switch of protocols, trailer floods and chunk framing without data are refused', async () => {
  const client = testTransport();
  try {
    upstream.script = (socket) => socket.write(`${'HTTP/1.1 100 Continue\r\n\r\n'.repeat(9)}HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx`);
    await assert.rejects(client.get(upstream.url(), {}), /too many 1xx answers/);
    upstream.script = (socket) => socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n');
    await assert.rejects(client.get(upstream.url(), {}), /switched protocols/);
    // A few 1xx answers are fine.
    upstream.script = (socket) => socket.write(`${'HTTP/1.1 103 Early Hints\r\n\r\n'.repeat(3)}HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx`);
    assert.equal((await readAll(await client.get(upstream.url(), {}))).toString(), 'x');

    const chunked = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n';
    upstream.script = (socket) => socket.write(`${chunked}1\r\nx\r\n0\r\n${'X-Trailer: yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\r\n'.repeat(1000)}\r\n`);
    await assert.rejects(readAll(await client.get(upstream.url(), {})), /chunked body malformed/);
    // 1-byte chunks, each with a 2 KiB extension: framing 2000 times its data.
    upstream.script = (socket) => socket.write(`${chunked}${`1;e=${'z'.repeat(2048)}\r\nx\r\n`.repeat(100)}0\r\n\r\n`);
    await assert.rejects(readAll(await client.get(upstream.url(), {})), /chunked body malformed/);
  } finally {
    client.close();
  }
});

test('repeated header names are gathered, __proto__ is a header like any other, and HTTP/1.0 is not kept alive', async () => {
  const client = testTransport();
  try {
    upstream.script = (socket) => socket.write(`HTTP/1.1 200 OK\r\n${'X-Many: v\r\n'.repeat(2000)}__proto__: p\r\nContent-Length: 1\r\n\r\nx`);
    const answer = await client.get(upstream.url(), {});
    await readAll(answer);
    assert.equal((answer.headers['x-many'] as string[]).length, 2000);
    assert.equal(Object.getPrototypeOf(answer.headers), null);
    assert.equal(answer.headers.__proto__, 'p');

    for (const [connection, expected] of [['', 2], ['Connection: keep-alive\r\n', 1]] as const) {
      upstream.script = (socket) => socket.write(`HTTP/1.0 200 OK\r\n${connection}Content-Length: 1\r\n\r\nx`);
      const fresh = testTransport();
      const before = upstream.connections.length;
      try {
        await readAll(await fresh.get(upstream.url(), {}));
        await readAll(await fresh.get(upstream.url(), {}));
      } finally {
        fresh.close();
      }
      assert.equal(upstream.connections.length - before, expected, `HTTP/1.0 ${connection || 'without Connection'}`);
    }
  } finally {
    client.close();
  }
});

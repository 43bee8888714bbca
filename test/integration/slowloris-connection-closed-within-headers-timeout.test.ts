import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

// Issue 9: a client that sends its request head a byte at a time (slowloris) held its connection for
// 75-90 s, and a handful of them could hold every connection the mirror allows. With
// limits.headersTimeout the head must arrive within that time, however steadily it trickles.

const HEADERS_TIMEOUT_MS = 1500;
/** The check runs on an interval (a tenth of the time-out here), plus scheduling on a busy machine. */
const SLACK_MS = 700;

let upstream: MemoryRegistry;
let mirror: TestMirror;

before(async () => {
  upstream = await new MemoryRegistry().start();
  mirror = await startMirror(
    { hub: { url: upstream.url } },
    // clientIdleTimeout far above the headers time-out: the trickle keeps the socket busy, so only the
    // headers time-out can end it.
    { extra: { limits: { headersTimeout: `${HEADERS_TIMEOUT_MS}ms`, requestTimeout: '5s', clientIdleTimeout: '30s' } } },
  );
});
after(async () => {
  await mirror.close();
  await upstream.stop();
});

/** Opens a raw connection, writes `head`, then a byte every `everyMs`; resolves with ms until the server closed it. */
function trickle(head: string, everyMs: number, giveUpMs: number): Promise<{ closedAfterMs: number | undefined; answer: string }> {
  const { port } = new URL(mirror.url);
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = net.connect(Number(port), '127.0.0.1');
    let answer = '';
    let timer: NodeJS.Timeout | undefined;
    const giveUp = setTimeout(() => finish(undefined), giveUpMs);
    function finish(closedAfterMs: number | undefined): void {
      clearInterval(timer);
      clearTimeout(giveUp);
      socket.destroy();
      resolve({ closedAfterMs, answer });
    }
    socket.on('connect', () => {
      if (head) socket.write(head);
      timer = setInterval(() => {
        if (socket.writable) socket.write('a');
      }, everyMs);
    });
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString('latin1');
    });
    socket.on('error', () => {});
    socket.on('close', () => finish(Date.now() - started));
  });
}

test('a request head trickled a byte at a time is cut within the headers time-out', async (t) => {
  const { closedAfterMs, answer } = await trickle('GET /v2/ HTTP/1.1\r\nHost: mirror\r\nX-Slow: ', 300, HEADERS_TIMEOUT_MS + 4000);
  t.diagnostic(`closed after ${closedAfterMs} ms`);
  assert.ok(closedAfterMs !== undefined, 'the server closed the connection');
  assert.ok(closedAfterMs <= HEADERS_TIMEOUT_MS + SLACK_MS, `closed after ${closedAfterMs} ms, headers time-out ${HEADERS_TIMEOUT_MS} ms`);
  assert.ok(closedAfterMs >= HEADERS_TIMEOUT_MS - 100, `not before the time-out (${closedAfterMs} ms)`);
  assert.match(answer, /^HTTP\/1\.1 408 /, 'answered 408 Request Timeout');
});

test('a connection that never sends a byte is cut within the headers time-out too', async () => {
  const { closedAfterMs } = await trickle('', 60_000, HEADERS_TIMEOUT_MS + 4000);
  assert.ok(closedAfterMs !== undefined && closedAfterMs <= HEADERS_TIMEOUT_MS + SLACK_MS, `closed after ${closedAfterMs} ms`);
});

test('a normal request on the same server is unaffected', async () => {
  const response = await fetch(`${mirror.url}/v2/`);
  assert.equal(response.status, 200);
});

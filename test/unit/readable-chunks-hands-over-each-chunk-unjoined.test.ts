import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { chunksOf } from '../../src/storage/readable-chunks.ts';

// A fill that waits for its disk lets the upstream body buffer; its own async iterator would then join
// what is buffered into one fresh copy. chunksOf hands over the very chunks pushed, in order, and keeps the
// Readable's end, failure and early-exit behaviour.

const CHUNK = 64 * 1024;

function source(count: number, highWaterMark = 16 * CHUNK): { stream: Readable; pushed: Buffer[] } {
  const pushed: Buffer[] = [];
  let i = 0;
  const stream = new Readable({
    highWaterMark,
    read() {
      if (i === count) return void this.push(null);
      const chunk = Buffer.alloc(CHUNK, i++ % 256);
      pushed.push(chunk);
      this.push(chunk);
    },
  });
  return { stream, pushed };
}

test('a slow consumer gets every pushed chunk itself, in order, none joined', async () => {
  const { stream, pushed } = source(40);
  const got: Buffer[] = [];
  for await (const chunk of chunksOf(stream)) {
    got.push(chunk);
    // The consumer lags: the stream fills its buffer meanwhile.
    if (got.length % 8 === 0) await sleep(5);
  }
  assert.equal(got.length, 40);
  got.forEach((chunk, i) => assert.equal(chunk, pushed[i], `chunk ${i} is the pushed buffer itself`));
});

test('holds no more than the stream buffer and half of it again while the consumer waits', async () => {
  const { stream, pushed } = source(1000);
  const iterator = chunksOf(stream)[Symbol.asyncIterator]();
  await iterator.next();
  await sleep(20);
  // One handed over, at most 16 in the stream's buffer, at most 8 (half of it) queued, plus the one that paused it.
  assert.ok(pushed.length <= 1 + 16 + 8 + 1, `${pushed.length} chunks read ahead`);
  await iterator.return?.();
  assert.ok(stream.destroyed, 'leaving early destroys the stream');
});

test('a stream that fails mid-way makes the loop throw its error', async () => {
  let sent = 0;
  const stream = new Readable({
    read() {
      if (sent++ < 3) this.push(Buffer.alloc(CHUNK));
      else this.destroy(new Error('upstream cut'));
    },
  });
  let got = 0;
  await assert.rejects(
    (async () => {
      for await (const chunk of chunksOf(stream)) got += chunk.length;
    })(),
    /upstream cut/,
  );
  assert.equal(got, 3 * CHUNK);
});

test('a stream closed before its end fails, even if that happened before the loop began', async () => {
  const closed = new Readable({ read() {} });
  closed.push(Buffer.alloc(CHUNK));
  closed.destroy();
  await sleep(1);
  await assert.rejects(
    (async () => {
      for await (const _ of chunksOf(closed)) void _;
    })(),
    /closed before its end/,
  );
  const failed = new Readable({ read() {} });
  failed.on('error', () => undefined);
  failed.destroy(new Error('refused'));
  await sleep(1);
  await assert.rejects(
    (async () => {
      for await (const _ of chunksOf(failed)) void _;
    })(),
    /refused/,
  );
});

test('any other iterable is passed through as it is', async () => {
  async function* parts(): AsyncGenerator<Buffer> {
    yield Buffer.from('a');
    yield Buffer.from('b');
  }
  const iterable = parts();
  assert.equal(chunksOf(iterable), iterable);
});

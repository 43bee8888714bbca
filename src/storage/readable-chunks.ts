// A readable's chunks one at a time, each as it was pushed. A Readable's own async iterator takes everything
// buffered at each step with read(), which joins it into one new buffer: whenever the consumer paused for a
// moment (a fill waiting for its disk), up to the stream's highWaterMark was copied once more into memory
// allocated afresh outside V8's heap, and such allocations are what push V8 into full collections. A cold
// 256 MiB fill was joined ~60 times, ~62 MiB copied again (bench: cold large blob).

import { Readable } from 'node:stream';

/**
 * The chunks of `body` in order. A Readable flows, and is paused while half its highWaterMark waits for the
 * consumer (pausing and resuming it per chunk would cost more than the copy saved), so at most one and a half
 * times that is held, plus a chunk; leaving the loop early destroys it, as the Readable's own iterator does.
 * Any other iterable is passed through.
 */
export function chunksOf<T>(body: AsyncIterable<T>): AsyncIterable<T> {
  return body instanceof Readable && !body.readableObjectMode ? (readChunks(body) as AsyncIterable<T>) : body;
}

async function* readChunks(stream: Readable): AsyncGenerator<Buffer> {
  const queue: Buffer[] = [];
  const pauseAt = Math.max(1, stream.readableHighWaterMark / 2);
  let queued = 0;
  let ended = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const resume = wake;
    wake = undefined;
    resume?.();
  };
  const onData = (chunk: Buffer): void => {
    queue.push(chunk);
    queued += chunk.length;
    if (queued >= pauseAt) stream.pause();
    notify();
  };
  const onEnd = (): void => {
    ended = true;
    notify();
  };
  const onError = (error: Error): void => {
    failure ??= error;
    notify();
  };
  const onClose = (): void => {
    if (!ended) failure ??= new Error('stream closed before its end');
    notify();
  };
  // Its end or failure may have been announced before this iterator listened.
  if (stream.errored) throw stream.errored;
  if (stream.readableEnded) return;
  if (stream.destroyed) throw new Error('stream closed before its end');
  stream.on('data', onData);
  stream.on('end', onEnd);
  stream.on('error', onError);
  stream.on('close', onClose);
  try {
    for (;;) {
      const chunk = queue.shift();
      if (chunk !== undefined) {
        queued -= chunk.length;
        if (queued < pauseAt && stream.isPaused()) stream.resume();
        yield chunk;
        continue;
      }
      if (failure !== undefined) throw failure;
      if (ended) return;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  } finally {
    stream.off('data', onData);
    stream.off('end', onEnd);
    stream.off('error', onError);
    stream.off('close', onClose);
    // A late error of the destroyed stream must not go unhandled.
    stream.on('error', () => undefined);
    if (!ended) stream.destroy();
  }
}

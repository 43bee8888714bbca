// Upstream bodies read with a ceiling (issue 9): an upstream that answers a token request or a listing
// with hundreds of megabytes must not make the mirror hold them.

import type { Readable } from 'node:stream';
import { Transform, type TransformCallback } from 'node:stream';

/** The whole body if it is at most `max` bytes; undefined (and the body destroyed) once it is longer. */
export async function readAtMost(body: Readable, max: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length;
    // Leaving the loop destroys the body, which closes the upstream connection instead of draining it.
    if (size > max) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

/** Passes bytes through and fails the stream when more than `max` have come. */
export function byteLimit(max: number): Transform {
  let size = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      size += chunk.length;
      if (size > max) callback(new Error(`upstream body larger than ${max} bytes`));
      else callback(null, chunk);
    },
  });
}

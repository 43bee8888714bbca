// Readers that write to an HTTP response themselves when fastify pipes them into one (fill-reader.ts,
// kept-file-reader.ts): they hand the socket buffers they will reuse, and only they know when each write's
// callback makes one free again, which piping (which copies nothing and tells nothing) cannot. Read any
// other way, they are ordinary Readables.

import { ServerResponse } from 'node:http';
import { Readable, type Writable } from 'node:stream';

export abstract class SelfSendingReadable extends Readable {
  override pipe<T extends NodeJS.WritableStream>(destination: T, options?: { end?: boolean }): T {
    if (!(destination instanceof ServerResponse) || this.readableFlowing !== null) return super.pipe(destination, options);
    void this.sendTo(destination).then(
      (sent) => {
        if (!sent) return;
        // Ended as a stream is, for whoever watches it (fastify does), then the response.
        this.push(null);
        this.resume();
        if (options?.end !== false) destination.end();
      },
      (error: unknown) => this.destroy(error as Error),
    );
    return destination;
  }

  /** Writes everything to the response; false if it stopped early (the reader or the response went). */
  protected abstract sendTo(response: ServerResponse): Promise<boolean>;
}

/** Resolves when `response` can take more, or has closed. */
export function waitForRoom(response: Writable): Promise<void> {
  return new Promise((resolve) => {
    const go = (): void => {
      response.off('drain', go);
      response.off('close', go);
      resolve();
    };
    response.on('drain', go);
    response.on('close', go);
  });
}

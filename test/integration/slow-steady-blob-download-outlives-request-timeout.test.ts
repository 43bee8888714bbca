import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import { after, before, test } from 'node:test';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

// The client time-outs of issue 9 must not cut a long download that keeps moving: requestTimeout bounds
// the time to *receive* the request (Node checks it until the request is complete), and clientIdleTimeout
// only fires when no byte moves. Here a client reads a blob larger than the socket buffers at ~4 MiB/s,
// so the mirror is still writing well past requestTimeout; the download must finish intact.

const REQUEST_TIMEOUT_MS = 1000;
const BLOB_SIZE = 16 * 1024 * 1024;
const READ_BYTES_PER_SECOND = 4 * 1024 * 1024;

let upstream: MemoryRegistry;
let mirror: TestMirror;

before(async () => {
  upstream = await new MemoryRegistry().start();
  upstream.addImage('team/app', 'v1');
  mirror = await startMirror(
    { hub: { url: upstream.url } },
    { extra: { limits: { headersTimeout: '500ms', requestTimeout: `${REQUEST_TIMEOUT_MS}ms`, clientIdleTimeout: '1s', keepAliveTimeout: '500ms' } } },
  );
});
after(async () => {
  await mirror.close();
  await upstream.stop();
});

/** GETs `url` reading at most READ_BYTES_PER_SECOND; resolves with the body's digest, size and duration. */
function slowGet(url: string): Promise<{ status: number; digest: string; size: number; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const request = http.get(url, { agent: false }, (response) => {
      const hash = createHash('sha256');
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        size += chunk.length;
        const aheadMs = (size / READ_BYTES_PER_SECOND) * 1000 - (Date.now() - started);
        if (aheadMs > 0) {
          response.pause();
          setTimeout(() => response.resume(), aheadMs);
        }
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, digest: `sha256:${hash.digest('hex')}`, size, ms: Date.now() - started }));
      response.on('error', reject);
      response.on('aborted', () => reject(new Error(`download cut after ${size} bytes, ${Date.now() - started} ms`)));
    });
    request.on('error', reject);
  });
}

test('a blob download slower than requestTimeout but steadily moving finishes intact', async (t) => {
  const blob = upstream.addRandomBlob(BLOB_SIZE);
  const url = `${mirror.url}/v2/team/app/blobs/${blob.digest}`;
  // How long the mirror itself was writing each answer: the socket buffers must not have hidden the
  // slowness from it.
  const writingMs: number[] = [];
  mirror.app.server.on('request', (_request: http.IncomingMessage, response: http.ServerResponse) => {
    const started = Date.now();
    response.on('finish', () => writingMs.push(Date.now() - started));
  });
  for (const round of ['cold (streamed while filling)', 'cached (from the store)']) {
    const result = await slowGet(url);
    assert.equal(result.status, 200, round);
    assert.equal(result.size, BLOB_SIZE, round);
    assert.equal(result.digest, blob.digest, round);
    const serverMs = writingMs.shift();
    t.diagnostic(`${round}: client ${result.ms} ms, mirror writing ${serverMs} ms`);
    assert.ok(serverMs !== undefined && serverMs > 2 * REQUEST_TIMEOUT_MS, `${round}: the mirror wrote for ${serverMs} ms, past requestTimeout`);
  }
});

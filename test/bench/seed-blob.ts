// Pushes large incompressible blobs straight to the upstream registry (bypassing its counting proxy) with the
// Registry V2 chunked upload API: POST starts a session, one streamed PATCH carries the bytes while they are
// generated and hashed, PUT ?digest= commits. One pass, constant memory, a 1 GiB blob in a few seconds.

import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import type { UpstreamRegistry } from '../e2e/support/upstream-registry.ts';

export interface PushedBlob {
  digest: string;
  size: number;
}

const CHUNK = 4 * 1024 * 1024;

function pushToken(upstream: UpstreamRegistry, repository: string): string {
  if (upstream.tokenServer === undefined) throw new Error('the bench expects a token-auth upstream');
  return upstream.tokenServer.issue([`repository:${repository}:pull,push`], upstream.credentials.username);
}

interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP request; `body` is either bytes or a generator the request streams with back-pressure. */
function send(
  method: string,
  url: string,
  headers: Record<string, string>,
  body?: Buffer | (() => AsyncGenerator<Buffer>),
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body === undefined) {
      req.end();
    } else if (Buffer.isBuffer(body)) {
      req.end(body);
    } else {
      (async () => {
        for await (const chunk of body()) {
          if (!req.write(chunk)) await new Promise<void>((r) => req.once('drain', () => r()));
        }
        req.end();
      })().catch((e: unknown) => req.destroy(e as Error));
    }
  });
}

function location(answer: HttpAnswer, base: string): string {
  const loc = answer.headers.location;
  if (typeof loc !== 'string') throw new Error(`upload: no Location (${answer.status} ${answer.body})`);
  return new URL(loc, base).toString();
}

/** Pushes `size` random bytes (AES-CTR keystream under a random key: fast and incompressible) to `repository`. */
export function pushRandomBlob(upstream: UpstreamRegistry, repository: string, size: number): Promise<PushedBlob> {
  const cipher = createCipheriv('aes-256-ctr', randomBytes(32), randomBytes(16));
  const zeros = Buffer.alloc(CHUNK);
  return pushBlob(upstream, repository, size, function* () {
    for (let left = size; left > 0; left -= CHUNK) yield cipher.update(left >= CHUNK ? zeros : zeros.subarray(0, left));
  });
}

/** Pushes the exact bytes of `body` (an image config) to `repository`. */
export function pushBytes(upstream: UpstreamRegistry, repository: string, body: Buffer): Promise<PushedBlob> {
  return pushBlob(upstream, repository, body.length, function* () {
    yield body;
  });
}

/** POST, one streamed PATCH hashing what it sends, PUT ?digest=. */
async function pushBlob(upstream: UpstreamRegistry, repository: string, size: number, chunks: () => Generator<Buffer>): Promise<PushedBlob> {
  const auth = { authorization: `Bearer ${pushToken(upstream, repository)}` };
  const base = upstream.directUrl;
  const started = await send('POST', `${base}/v2/${repository}/blobs/uploads/`, { ...auth, 'content-length': '0' });
  if (started.status !== 202) throw new Error(`upload start: ${started.status} ${started.body}`);

  const hash = createHash('sha256');
  async function* generate(): AsyncGenerator<Buffer> {
    for (const chunk of chunks()) {
      hash.update(chunk);
      yield chunk;
    }
  }
  const patched = await send(
    'PATCH',
    location(started, base),
    { ...auth, 'content-type': 'application/octet-stream', 'content-length': String(size) },
    generate,
  );
  if (patched.status !== 202) throw new Error(`upload data: ${patched.status} ${patched.body}`);
  const digest = `sha256:${hash.digest('hex')}`;
  const put = new URL(location(patched, base));
  put.searchParams.set('digest', digest);
  const committed = await send('PUT', put.toString(), { ...auth, 'content-length': '0' });
  if (committed.status !== 201) throw new Error(`upload commit: ${committed.status} ${committed.body}`);
  return { digest, size };
}

/** PUTs a manifest under `reference` (a tag); returns its digest as the registry computed it. */
export async function putManifest(upstream: UpstreamRegistry, repository: string, reference: string, mediaType: string, body: Buffer): Promise<string> {
  const auth = { authorization: `Bearer ${pushToken(upstream, repository)}` };
  const res = await send('PUT', `${upstream.directUrl}/v2/${repository}/manifests/${reference}`, { ...auth, 'content-type': mediaType, 'content-length': String(body.length) }, body);
  const digest = res.headers['docker-content-digest'];
  if (res.status !== 201 || typeof digest !== 'string') throw new Error(`manifest put: ${res.status} ${res.body}`);
  return digest;
}

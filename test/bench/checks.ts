// The bench's answer checks: a figure counts only when every answer behind it was right. A wrong answer
// throws WrongAnswer, which fails the system's run (a benchmark of errors is worthless).

import type { SeededImage } from '../e2e/support/images.ts';
import { fetchHashed, MANIFEST_ACCEPT, type CurlBatch } from './load.ts';

export class WrongAnswer extends Error {}

export function expect(ok: boolean, message: string): void {
  if (!ok) throw new WrongAnswer(message);
}

export function checkBatch(what: string, batch: CurlBatch, size: number): void {
  for (const r of batch.results) expect(r.status === 200 && r.bytes === size, `${what}: got ${r.status} with ${r.bytes} of ${size} bytes`);
}

export async function expectBlob(what: string, url: string, blob: { digest: string; size: number }, headers: Record<string, string> = {}): Promise<void> {
  const got = await fetchHashed(url, { headers });
  expect(got.status === 200, `${what}: status ${got.status}`);
  expect(got.size === blob.size && got.digest === blob.digest, `${what}: body is ${got.size} bytes hashing to ${got.digest}, expected ${blob.size} bytes ${blob.digest}`);
}

export async function expectManifest(what: string, url: string, image: SeededImage): Promise<void> {
  const got = await fetchHashed(url, { headers: { accept: MANIFEST_ACCEPT }, keepBody: true });
  expect(got.status === 200, `${what}: status ${got.status} ${got.body?.toString('utf8').slice(0, 300) ?? ''}`);
  expect(got.digest === image.digest, `${what}: body hashes to ${got.digest}, expected ${image.digest}`);
  expect(got.headers.get('docker-content-digest') === image.digest, `${what}: Docker-Content-Digest ${got.headers.get('docker-content-digest')}`);
  expect(got.headers.get('content-type') === image.mediaType, `${what}: Content-Type ${got.headers.get('content-type')}, expected ${image.mediaType}`);
}

// `npm run soak` (or `npm run soak -- --smoke`): many concurrent clients pull a mix of cached and uncached
// images and blobs through a mirror process from a real registry (distribution, token auth) for a while,
// hashing every body. Exits non-zero on any failed pull, any corrupt body, or a mirror whose memory
// (sampled RSS) grew past the bound. Not part of `npm test`; CI runs the smoke size.

import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { Agent } from 'undici';
import { readMemory, sampleRss } from '../bench/load.ts';
import { pushRandomBlob, type PushedBlob } from '../bench/seed-blob.ts';
import { seedImage, type SeededImage } from '../e2e/support/images.ts';
import { startMirrorProcess, writeMirrorConfig, type MirrorProcess } from '../e2e/support/mirror-process.ts';
import { MANIFEST_ACCEPT } from '../e2e/support/registry-client.ts';
import { makeTempDir, removeTempDir } from '../e2e/support/temp-dir.ts';
import { startUpstreamRegistry, type UpstreamRegistry } from '../e2e/support/upstream-registry.ts';

const smoke = process.argv.includes('--smoke');
const P = smoke
  ? { clients: 20, seconds: 5, images: 4, coldBlobs: 40, maxRssMiB: 400 }
  : { clients: 200, seconds: 60, images: 24, coldBlobs: 400, maxRssMiB: 768 };
const MiB = 1024 * 1024;

function say(message: string): void {
  process.stderr.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

interface Tally {
  pulls: number;
  failedPulls: number;
  blobs: number;
  failedBlobs: number;
  corrupt: number;
  bytes: number;
  failures: string[];
}

const tally: Tally = { pulls: 0, failedPulls: 0, blobs: 0, failedBlobs: 0, corrupt: 0, bytes: 0, failures: [] };
// Enough connections for every client at once; the mirror is the thing under load, not the client pool.
const dispatcher = new Agent({ connections: 512, pipelining: 0 });

class Corrupt extends Error {}

/** GET and hash; throws on a non-2xx answer, a wrong length or a digest mismatch. */
async function getVerified(url: string, digest: string, headers: Record<string, string> = {}): Promise<Buffer | undefined> {
  const response = await fetch(url, { headers, dispatcher } as RequestInit);
  if (response.status !== 200) {
    await response.arrayBuffer().catch(() => undefined);
    throw new Error(`${response.status} for ${url}`);
  }
  const hash = createHash('sha256');
  const keep: Buffer[] = [];
  for await (const chunk of response.body ?? []) {
    const buffer = Buffer.from(chunk as Uint8Array);
    hash.update(buffer);
    tally.bytes += buffer.length;
    if (headers.accept) keep.push(buffer);
  }
  if (`sha256:${hash.digest('hex')}` !== digest) throw new Corrupt(`body of ${url} does not hash to ${digest}`);
  return headers.accept ? Buffer.concat(keep) : undefined;
}

/** What docker does: HEAD the tag, GET the manifest by digest, then the config and every layer. */
async function pullImage(mirror: string, image: SeededImage): Promise<void> {
  const name = image.name.replace(/^library\//, '');
  const head = await fetch(`${mirror}/v2/${name}/manifests/${image.tag}`, { method: 'HEAD', headers: { accept: MANIFEST_ACCEPT }, dispatcher } as RequestInit);
  if (head.status !== 200 || head.headers.get('docker-content-digest') !== image.digest) throw new Error(`HEAD ${name}: ${head.status}`);
  await getVerified(`${mirror}/v2/${name}/manifests/${image.digest}`, image.digest, { accept: MANIFEST_ACCEPT });
  await Promise.all(image.blobs.map((blob) => getVerified(`${mirror}/v2/${name}/blobs/${blob.digest}`, blob.digest)));
}

async function client(mirror: string, images: SeededImage[], cold: PushedBlob[], next: { cold: number }, until: number, random: () => number): Promise<void> {
  while (Date.now() < until) {
    try {
      if (random() < 0.7 || next.cold >= cold.length) {
        tally.pulls += 1;
        await pullImage(mirror, images[Math.floor(random() * images.length)] as SeededImage).catch((error: unknown) => {
          tally.failedPulls += 1;
          throw error;
        });
      } else {
        // A blob nobody has asked for yet half the time, otherwise one that may be in flight or kept.
        const index = random() < 0.5 ? next.cold++ : Math.floor(random() * Math.max(1, next.cold));
        const blob = cold[index] as PushedBlob;
        tally.blobs += 1;
        await getVerified(`${mirror}/v2/soak/cold/blobs/${blob.digest}`, blob.digest).catch((error: unknown) => {
          tally.failedBlobs += 1;
          throw error;
        });
      }
    } catch (error) {
      if (error instanceof Corrupt) tally.corrupt += 1;
      if (tally.failures.length < 10) tally.failures.push(String(error));
    }
  }
}

function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function main(): Promise<number> {
  const dir = await makeTempDir('soak');
  let upstream: UpstreamRegistry | undefined;
  let mirror: MirrorProcess | undefined;
  try {
    say(`${P.clients} clients for ${P.seconds} s (${smoke ? 'smoke' : 'full'})`);
    upstream = await startUpstreamRegistry({ auth: 'token' });
    const images: SeededImage[] = [];
    for (let i = 0; i < P.images; i++) {
      images.push(await seedImage(upstream, { name: `library/soak-${i}`, tag: 'v1', extraLayerBytes: (64 << (i % 5)) * 1024 }));
    }
    const cold: PushedBlob[] = [];
    for (let i = 0; i < P.coldBlobs; i++) cold.push(await pushRandomBlob(upstream, 'soak/cold', (32 << (i % 4)) * 1024));
    say(`seeded ${images.length} images and ${cold.length} blobs`);

    const { file, port } = await writeMirrorConfig(dir, {
      storage: { path: join(dir, 'storage') },
      defaultUpstream: 'hub',
      upstreams: { hub: { url: upstream.url, defaultNamespace: 'library', tagTtl: '10s' } },
    });
    mirror = await startMirrorProcess(dir, file, port);
    // Half the images are cached before the clock starts; the rest are fetched under load.
    for (const image of images.slice(0, Math.ceil(images.length / 2))) await pullImage(mirror.url, image);
    const warmRss = (await readMemory(mirror.proc.pid)).rss;
    upstream.resetCounts();

    const rss = sampleRss(mirror.proc.pid, 250);
    const started = Date.now();
    const until = started + P.seconds * 1000;
    const next = { cold: 0 };
    await Promise.all(Array.from({ length: P.clients }, (_, i) => client(mirror?.url ?? '', images, cold, next, until, seeded(i + 1))));
    const elapsed = (Date.now() - started) / 1000;
    const peakRss = await rss.stop();
    const endRss = (await readMemory(mirror.proc.pid)).rss;

    const report = {
      clients: P.clients,
      seconds: Math.round(elapsed),
      imagePulls: tally.pulls,
      failedPulls: tally.failedPulls,
      blobGets: tally.blobs,
      failedBlobGets: tally.failedBlobs,
      corruptBodies: tally.corrupt,
      servedMiB: Math.round(tally.bytes / MiB),
      pullsPerSecond: Math.round(tally.pulls / elapsed),
      upstreamRequests: upstream.count(),
      upstreamBlobGets: upstream.count({ method: 'GET', kind: 'blob', status: 200 }),
      coldBlobsTouched: Math.min(next.cold, cold.length),
      rssMiB: { warm: Math.round(warmRss / MiB), peak: Math.round(peakRss / MiB), end: Math.round(endRss / MiB), bound: P.maxRssMiB },
    };
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    const problems: string[] = [];
    if (tally.failedPulls + tally.failedBlobs > 0) problems.push(`${tally.failedPulls + tally.failedBlobs} failed requests: ${tally.failures.join('; ')}`);
    if (tally.corrupt > 0) problems.push(`${tally.corrupt} corrupt bodies`);
    if (peakRss > P.maxRssMiB * MiB) problems.push(`peak RSS ${Math.round(peakRss / MiB)} MiB over ${P.maxRssMiB} MiB`);
    if (tally.pulls === 0 || report.coldBlobsTouched === 0) problems.push('no load was generated');
    if (!mirror.proc.isRunning()) problems.push('the mirror exited');
    for (const problem of problems) say(`FAIL: ${problem}`);
    if (problems.length === 0) say('ok: 0 failed pulls, 0 corrupt bodies, memory within bound');
    return problems.length === 0 ? 0 : 1;
  } finally {
    await mirror?.proc.stop(10_000);
    await upstream?.stop();
    await dispatcher.close();
    await removeTempDir(dir);
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`soak: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(2);
  },
);

// The real-client rows (issue 11): skopeo pulling a large multi-layer image through each mirror — cold (content
// no system has seen: a new image per repetition), warm (the same image again) and 4 warm pulls at once — timed
// as whole `skopeo copy docker://… dir:…` runs. Every file skopeo wrote is hashed against its digest. The same
// pulls straight from the upstream registry (no mirror) show what the client itself can reach on this machine,
// and the CPU seconds of skopeo and of each system per pull show how the 2 cores were shared.

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { skopeoCopy } from '../e2e/support/skopeo-client.ts';
import type { Credentials } from '../e2e/support/token-server.ts';
import type { UpstreamRegistry } from '../e2e/support/upstream-registry.ts';
import { expect } from './checks.ts';
import { cpuSecondsOf, median } from './load.ts';
import { pushBytes, pushRandomBlob, putManifest, type PushedBlob } from './seed-blob.ts';

/** What skopeo pulls from: a mirror, or the upstream registry itself (with its credentials). */
export interface SkopeoTarget {
  id: string;
  label: string;
  /** http://127.0.0.1:PORT */
  url: string;
  creds?: Credentials;
  /** Every process serving, for CPU time; absent for the upstream (its token server shares the runner). */
  pids?: () => Promise<number[]>;
}

/** The id of the no-mirror reference column. */
export const SKOPEO_UPSTREAM_ID = 'upstream';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

export interface BigImage {
  repo: string;
  tag: string;
  digest: string;
  /** Config and layers: what a pull writes besides the manifest. */
  blobs: PushedBlob[];
}

/**
 * `layers` random layers of `layerBytes` each, pushed straight to the upstream. Random bytes do not compress, so
 * the layers are declared uncompressed tars and the config's diff_ids are the layer digests: skopeo copying to
 * dir: keeps blobs as they are and never unpacks them.
 */
export async function seedBigImage(upstream: UpstreamRegistry, repo: string, tag: string, layers: number, layerBytes: number): Promise<BigImage> {
  const pushed: PushedBlob[] = [];
  for (let i = 0; i < layers; i++) pushed.push(await pushRandomBlob(upstream, repo, layerBytes));
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: pushed.map((l) => l.digest) } }));
  const configBlob = await pushBytes(upstream, repo, config);
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configBlob.digest, size: configBlob.size },
    layers: pushed.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: l.digest, size: l.size })),
  };
  const digest = await putManifest(upstream, repo, tag, OCI_MANIFEST, Buffer.from(JSON.stringify(manifest)));
  upstream.tokenServer?.resetCounts();
  return { repo, tag, digest, blobs: [configBlob, ...pushed] };
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

interface Pulled {
  seconds: number;
  ok: boolean;
  digest: string | undefined;
  output: string;
  /** CPU seconds of skopeo, and of the system's processes over the same time (NaN when not known). */
  clientCpuS: number;
  serverCpuS: number;
}

/** One whole `skopeo copy` into `dest`, timed from start to exit. */
async function pull(sys: SkopeoTarget, image: BigImage, dest: string): Promise<Pulled> {
  const pids = (await sys.pids?.()) ?? [];
  const cpu0 = await cpuSecondsOf(pids);
  const start = performance.now();
  const res = await skopeoCopy(`${new URL(sys.url).host}/${image.repo}:${image.tag}`, dest, { timeoutMs: 600_000, measureCpu: true, ...(sys.creds ? { creds: sys.creds } : {}) });
  const seconds = (performance.now() - start) / 1000;
  const serverCpuS = pids.length === 0 ? Number.NaN : (await cpuSecondsOf(pids)) - cpu0;
  return { seconds, ...res, clientCpuS: res.cpuSeconds ?? Number.NaN, serverCpuS };
}

/** What skopeo wrote: the manifest's digest and every blob's bytes (untimed); the copy is deleted after. */
async function checkCopy(what: string, image: BigImage, dest: string, pulled: Pulled): Promise<void> {
  try {
    expect(pulled.ok, `${what}: skopeo copy failed: ${pulled.output.slice(-500)}`);
    expect(pulled.digest === image.digest, `${what}: skopeo pulled manifest ${pulled.digest}, expected ${image.digest}`);
    const files = new Set(await readdir(dest));
    for (const blob of image.blobs) {
      const hex = blob.digest.slice('sha256:'.length);
      expect(files.has(hex), `${what}: skopeo wrote no file for ${blob.digest}`);
      const path = join(dest, hex);
      const size = (await stat(path)).size;
      expect(size === blob.size && (await sha256File(path)) === blob.digest, `${what}: ${blob.digest} written as ${size} bytes that do not hash to it`);
    }
  } finally {
    await rm(dest, { recursive: true, force: true });
  }
}

async function checkedPull(what: string, sys: SkopeoTarget, image: BigImage, dest: string): Promise<Pulled> {
  const pulled = await pull(sys, image, dest);
  await checkCopy(what, image, dest, pulled);
  return pulled;
}

export type SkopeoMetricKey = 'coldS' | 'warmS' | 'warm4S' | 'coldClientCpuS' | 'coldServerCpuS' | 'warmClientCpuS' | 'warmServerCpuS';
export type SkopeoMetrics = Partial<Record<SkopeoMetricKey, number>>;

export interface SkopeoRun {
  metrics: Record<string, SkopeoMetrics>;
  samples: Record<string, Record<SkopeoMetricKey, number[]>>;
}

/**
 * Per repetition: a new image is pushed; each system pulls it cold then warm, then each runs 4 warm pulls at
 * once. Systems take turns within a repetition (the order rotates), so a disturbance on the machine spreads
 * over all of them rather than hitting one column.
 */
export async function benchSkopeo(
  systems: SkopeoTarget[],
  upstream: UpstreamRegistry,
  opts: { reps: number; layers: number; layerBytes: number; repo: string; scratch: string; say: (m: string) => void },
): Promise<SkopeoRun> {
  const samples: SkopeoRun['samples'] = {};
  for (const sys of systems) samples[sys.id] = { coldS: [], warmS: [], warm4S: [], coldClientCpuS: [], coldServerCpuS: [], warmClientCpuS: [], warmServerCpuS: [] };
  for (let rep = 0; rep < opts.reps; rep++) {
    opts.say(`skopeo: pushing image ${rep + 1}/${opts.reps} (${opts.layers} × ${opts.layerBytes / 1024 / 1024} MiB layers)`);
    const image = await seedBigImage(upstream, opts.repo, `r${rep}`, opts.layers, opts.layerBytes);
    const order = systems.map((_, i) => systems[(i + rep) % systems.length] as SkopeoTarget);
    for (const sys of order) {
      const s = samples[sys.id] as Record<SkopeoMetricKey, number[]>;
      const dest = (n: number): string => join(opts.scratch, `${sys.id}-${rep}-${n}`);
      opts.say(`skopeo: ${sys.label}: cold and warm pull`);
      const cold = await checkedPull(`${sys.id} cold pull`, sys, image, dest(0));
      const warm = await checkedPull(`${sys.id} warm pull`, sys, image, dest(1));
      s.coldS.push(cold.seconds);
      s.coldClientCpuS.push(cold.clientCpuS);
      s.coldServerCpuS.push(cold.serverCpuS);
      s.warmS.push(warm.seconds);
      s.warmClientCpuS.push(warm.clientCpuS);
      s.warmServerCpuS.push(warm.serverCpuS);
    }
    for (const sys of order) {
      opts.say(`skopeo: ${sys.label}: 4 warm pulls at once`);
      const dests = [1, 2, 3, 4].map((n) => join(opts.scratch, `${sys.id}-${rep}-4x${n}`));
      const start = performance.now();
      const pulls = await Promise.all(dests.map((d) => pull(sys, image, d)));
      samples[sys.id]?.warm4S.push((performance.now() - start) / 1000);
      for (const [n, d] of dests.entries()) await checkCopy(`${sys.id} 4 warm pulls`, image, d, pulls[n] as Pulled);
    }
  }
  const metrics: SkopeoRun['metrics'] = {};
  for (const [id, s] of Object.entries(samples)) {
    const m: SkopeoMetrics = {};
    for (const [key, values] of Object.entries(s)) m[key as SkopeoMetricKey] = median(values);
    metrics[id] = m;
  }
  return { metrics, samples };
}

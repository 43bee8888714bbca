// `npm run bench` (or `npm run bench -- --smoke`): pullthrough against CNCF distribution 2.8 in proxy mode, side
// by side on this machine, all on 127.0.0.1 (issue 3). Not a test: it measures, prints a markdown table and writes
// JSON to bench-results/latest.json. It exits non-zero when a system answers wrongly (a benchmark of errors is
// worthless) and, with --smoke, when a row produced no number. Missed targets are reported, not failed.
// With Redis it also runs issue 6's rows: 3 pullthrough replicas (one Redis, one shared store directory) against
// 1, under the same load spread (`--only=pullthrough-replicas` runs just those). Where Ceph RGW is installed it also
// runs issue 10's rows: pullthrough with its blobs in an S3 bucket, streamed and via redirect, against the
// filesystem store and distribution (`--only=pullthrough-s3,distribution,pullthrough-embedded` for just those).

import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCountingProxy, type CountingProxy } from '../e2e/support/counting-proxy.ts';
import { seedImage, type SeededImage } from '../e2e/support/images.ts';
import { runCommand } from '../e2e/support/run-command.ts';
import { makeTempDir, removeTempDir } from '../e2e/support/temp-dir.ts';
import { startUpstreamRegistry, type UpstreamRegistry } from '../e2e/support/upstream-registry.ts';
import {
  MANIFEST_ACCEPT,
  median,
  readMemory,
  resetPeakMemory,
  runCurlRate,
  runCurls,
  runWrk,
  runWrkSpread,
  coldFetch,
  cpuSeconds,
  sampleRss,
} from './load.ts';
import {
  buildPatternRows,
  buildReplicaRows,
  buildRows,
  buildSkopeoRows,
  patternMarkdownTable,
  patternRowSpecs,
  skopeoMarkdownTable,
  buildS3Rows,
  markdownTable,
  s3MarkdownTable,
  s3RowSpecs,
  type S3Metrics,
  type S3ReportRow,
  replicaMarkdownTable,
  replicaRowSpecs,
  rowSpecs,
  type Metrics,
  type ReplicaMetricKey,
  type ReplicaMetrics,
  type SystemId,
} from './report.ts';
import { checkBatch, expect, expectBlob, expectManifest } from './checks.ts';
import { benchPhase, type PhaseResult } from './connection-rows.ts';
import { SKOPEO_UPSTREAM_ID } from './skopeo-rows.ts';
import { pushRandomBlob, type PushedBlob } from './seed-blob.ts';
import { makeSelfSignedCert, type ResumptionProbe } from './tls.ts';
import { startBareRelay, startDistributionProxy, startPullthrough, startReplicas, type BenchS3, type SystemUnderTest } from './systems.ts';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { s3ClientFor, startRgw, type Rgw } from '../support/ceph-rgw.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MiB = 1024 * 1024;

const smoke = process.argv.includes('--smoke');
const skipBuild = process.argv.includes('--no-build');
/** `--only=distribution,pullthrough-embedded`: a subset of the systems, e.g. while profiling one row. */
const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',');

const REPLICAS = 3;
const REPLICAS_ID = 'pullthrough-replicas';
const PATTERNS_ID = 'patterns';
const SKOPEO_ID = 'skopeo';
const WORKERS_ID = 'pullthrough-workers';
const OFFLOAD_ID = 'pullthrough-offload';
const DIRECT_ID = 'nginx-direct';
const S3_ID = 'pullthrough-s3';
const P = smoke
  ? { patternReps: 1, patternWrkSeconds: 1, patternLargeSeconds: 1, patternCurl: 5, midLarge: 2 * MiB, skopeoReps: 1, skopeoLayers: 2, skopeoLayerBytes: 2 * MiB, idleS: 1, reps: 1, wrkSeconds: 1, curlRate: 8, smallBlob: MiB, warmLarge: 4 * MiB, coldLarge: 4 * MiB, herd: 2 * MiB, herdClients: 16, memBlob: 8 * MiB, memClients: 4, econPulls: 5, econWindowS: 2, econTtlS: 1 }
  : { patternReps: 3, patternWrkSeconds: 1, patternLargeSeconds: 3, patternCurl: 40, midLarge: 31 * MiB, skopeoReps: 3, skopeoLayers: 8, skopeoLayerBytes: 128 * MiB, idleS: 40, reps: 3, wrkSeconds: 5, curlRate: 60, smallBlob: MiB, warmLarge: 256 * MiB, coldLarge: 256 * MiB, herd: 64 * MiB, herdClients: 16, memBlob: 1024 * MiB, memClients: 4, econPulls: 50, econWindowS: 20, econTtlS: 5 };
const REDIS_URL = process.env.PULLTHROUGH_BENCH_REDIS ?? 'redis://127.0.0.1:6379';

function say(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

function machine(): Record<string, string | number> {
  const cpuModel = /^model name\s*:\s*(.*)$/m.exec(execFileSync('cat', ['/proc/cpuinfo'], { encoding: 'utf8' }))?.[1] ?? cpus()[0]?.model ?? 'unknown';
  const tool = (cmd: string, args: string[]): string => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim().split('\n')[0] ?? '';
    } catch (e) {
      return ((e as { stdout?: string }).stdout ?? '').trim().split('\n')[0] ?? 'unknown';
    }
  };
  return {
    nproc: Number(execFileSync('nproc', { encoding: 'utf8' }).trim()),
    cpu: cpuModel.trim(),
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    distribution: tool('docker-registry', ['--version']),
    wrk: tool('wrk', ['-v']),
    skopeo: tool('skopeo', ['--version']),
    nginx: tool('sh', ['-c', 'nginx -v 2>&1']),
  };
}

function rgwInstalled(): boolean {
  try {
    execFileSync('sh', ['-c', 'command -v radosgw && command -v ceph-mon && command -v ceph-osd'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function redisReachable(url: string): Promise<boolean> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: u.hostname, port: Number(u.port || 6379) });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d: Buffer) => done(d.toString().startsWith('+PONG') || d.toString().startsWith('-NOAUTH')));
  });
}

interface Seeds {
  repo: string;
  image: SeededImage;
  economyRepo: string;
  economyImage: SeededImage;
  small: PushedBlob;
  warmLarge: PushedBlob;
  /** Issue 11's 31 MiB blob (16 connections at once). */
  midLarge: PushedBlob;
  coldLarge: PushedBlob[];
  herd: PushedBlob[];
  mem: PushedBlob;
  /** Cold herd blobs of the replica rows, one per repetition: all clients on one replica, and spread over all. */
  replicaHerd: { one: PushedBlob[]; many: PushedBlob[] };
}

async function seed(upstream: UpstreamRegistry, runId: string, withReplicas: boolean): Promise<Seeds> {
  const repo = `library/bench-${runId}`;
  const economyRepo = `library/bench-${runId}-econ`;
  const image = await seedImage(upstream, { name: repo, tag: 'v1', kind: 'oci', content: 'random', extraLayerBytes: 512 * 1024 });
  const economyImage = await seedImage(upstream, { name: economyRepo, tag: 'v1', kind: 'oci', content: 'random', extraLayerBytes: 512 * 1024 });
  const push = (size: number): Promise<PushedBlob> => pushRandomBlob(upstream, repo, size);
  const small = await push(P.smallBlob);
  const warmLarge = await push(P.warmLarge);
  const midLarge = await push(P.midLarge);
  const coldLarge: PushedBlob[] = [];
  const herd: PushedBlob[] = [];
  for (let i = 0; i < P.reps; i++) coldLarge.push(await push(P.coldLarge));
  for (let i = 0; i < P.reps; i++) herd.push(await push(P.herd));
  const mem = await push(P.memBlob);
  const replicaHerd: Seeds['replicaHerd'] = { one: [], many: [] };
  if (withReplicas) {
    for (let i = 0; i < P.reps; i++) {
      replicaHerd.one.push(await push(P.herd));
      replicaHerd.many.push(await push(P.herd));
    }
  }
  upstream.tokenServer?.resetCounts();
  return { repo, image, economyRepo, economyImage, small, warmLarge, midLarge, coldLarge, herd, mem, replicaHerd };
}

/** One docker-like pull (ping, HEAD tag, GET manifest by digest, config and layers), every answer checked. */
async function pullImage(prefix: string, repo: string, image: SeededImage): Promise<void> {
  const ping = await fetch(`${prefix}/v2/`);
  await ping.arrayBuffer();
  expect(ping.status === 200, `economy ping ${prefix}/v2/: ${ping.status}`);
  const head = await fetch(`${prefix}/v2/${repo}/manifests/${image.tag}`, { method: 'HEAD', headers: { accept: MANIFEST_ACCEPT } });
  await head.arrayBuffer();
  expect(head.status === 200, `economy HEAD tag: ${head.status}`);
  expect(head.headers.get('docker-content-digest') === image.digest, `economy HEAD tag: digest ${head.headers.get('docker-content-digest')}, expected ${image.digest}`);
  await expectManifest('economy GET manifest by digest', `${prefix}/v2/${repo}/manifests/${image.digest}`, image);
  for (const blob of image.blobs) await expectBlob('economy blob', `${prefix}/v2/${repo}/blobs/${blob.digest}`, blob);
}

interface SystemRun {
  metrics: Metrics;
  /** Every repetition's figure, so the medians can be checked. */
  samples: Record<string, number[]>;
  notes: Record<string, unknown>;
}

/**
 * All rows of one system. `restart` stops the system and starts it again (same configuration, same store
 * directory) and resolves with the new process: the memory row runs on a fresh one, so its peak is what the row
 * costs and not what the earlier rows left in the heap and in malloc's free lists.
 */
async function benchSystem(first: SystemUnderTest, restart: () => Promise<SystemUnderTest>, proxy: CountingProxy, economyProxy: CountingProxy, upstream: UpstreamRegistry, s: Seeds): Promise<SystemRun> {
  let sys = first;
  let base = `${sys.url}/v2/${s.repo}`;
  const blobUrl = (b: PushedBlob): string => `${base}/blobs/${b.digest}`;
  const samples: Record<string, number[]> = {};
  const notes: Record<string, unknown> = {};
  const add = (key: string, v: number): void => {
    (samples[key] ??= []).push(v);
  };

  // Correct answers first, and the warm rows' content cached (each fetched twice: fill, then served warm).
  notes.rssAtStartMiB = (await readMemory(sys.pid)).rss / MiB;
  say(`${sys.label}: verifying answers and warming the cache`);
  for (let i = 0; i < 2; i++) {
    await expectManifest('GET manifest by tag', `${base}/manifests/${s.image.tag}`, s.image);
    await expectManifest('GET manifest by digest', `${base}/manifests/${s.image.digest}`, s.image);
    await expectBlob('GET small blob', blobUrl(s.small), s.small);
    await expectBlob('GET large blob', blobUrl(s.warmLarge), s.warmLarge);
  }
  notes.rssAfterWarmUpMiB = (await readMemory(sys.pid)).rss / MiB;
  const head = await fetch(`${base}/manifests/${s.image.tag}`, { method: 'HEAD', headers: { accept: MANIFEST_ACCEPT } });
  expect(head.status === 200 && head.headers.get('docker-content-digest') === s.image.digest, `HEAD manifest by tag: ${head.status} ${head.headers.get('docker-content-digest')}`);
  proxy.resetCounts();

  const wrkRow = async (key: string, url: string): Promise<void> => {
    for (let i = 0; i < P.reps; i++) {
      const r = await runWrk(url, 16, P.wrkSeconds);
      expect(r.errors === 0 && r.non2xx === 0, `${key}: wrk saw ${r.non2xx} non-2xx answers and ${r.errors} socket errors in ${r.requests} requests`);
      add(key, r.requestsPerSecond);
      add(`${key}P99Ms`, r.p99Ms);
    }
  };
  say(`${sys.label}: warm manifests and small blob (wrk)`);
  await wrkRow('warmTagRps', `${base}/manifests/${s.image.tag}`);
  notes.upstreamRequestsDuringWarmTagRow = proxy.count();
  proxy.resetCounts();
  await wrkRow('warmDigestRps', `${base}/manifests/${s.image.digest}`);
  await wrkRow('warmSmallBlobRps', blobUrl(s.small));
  // The same blob by curl processes: the S3 table's yardstick for the redirect mirror, which wrk cannot follow.
  for (let i = 0; i < P.reps; i++) add('warmSmallBlobCurlRps', await curlRate('warm small blob (curl)', blobUrl(s.small), s.small.size));
  notes.upstreamRequestsDuringOtherWarmRows = proxy.count();

  notes.rssAfterWrkRowsMiB = (await readMemory(sys.pid)).rss / MiB;
  say(`${sys.label}: warm large blob (curl, 1 and 8 clients)`);
  for (const clients of [1, 8]) {
    for (let i = 0; i < P.reps; i++) {
      const batch = await runCurls(blobUrl(s.warmLarge), clients);
      checkBatch('warm large blob', batch, s.warmLarge.size);
      add(`warmLargeMBps${clients}`, (clients * s.warmLarge.size) / 1e6 / batch.wallSeconds);
    }
  }
  // A mirror between bursts of pulls: after an idle spell V8 shrinks the heap, and what a request allocates
  // decides whether serving then runs in back-to-back full collections (it did: half the rate, for good).
  say(`${sys.label}: idle ${P.idleS} s, then the warm small blob again (wrk)`);
  await new Promise((resolve) => setTimeout(resolve, P.idleS * 1000));
  await wrkRow('warmSmallBlobAfterIdleRps', blobUrl(s.small));

  say(`${sys.label}: cold large blob (curl)`);
  for (const blob of s.coldLarge) {
    const { batch, cpuSeconds: cpu } = await coldFetch(blobUrl(blob), await sys.pids());
    checkBatch('cold large blob', batch, blob.size);
    const r = batch.results[0];
    if (r !== undefined) {
      add('coldLargeTtfbMs', r.ttfbSeconds * 1000);
      add('coldLargeTotalS', r.totalSeconds);
    }
    add('coldLargeCpuS', cpu);
    await expectBlob('cold large blob, fetched again', blobUrl(blob), blob);
  }

  say(`${sys.label}: cold herd (${P.herdClients} curls)`);
  for (const blob of s.herd) {
    proxy.resetCounts();
    const batch = await runCurls(blobUrl(blob), P.herdClients);
    checkBatch('cold herd', batch, blob.size);
    // Requests still in flight upstream after the clients are done would otherwise be missed.
    await new Promise((r) => setTimeout(r, 300));
    const hex = blob.digest.slice('sha256:'.length);
    add('coldHerdUpstreamGets', proxy.count({ method: 'GET', kind: 'blob', pathIncludes: hex }));
    add('coldHerdUpstreamHeads', proxy.count({ method: 'HEAD', kind: 'blob', pathIncludes: hex }));
    add('coldHerdTotalS', batch.wallSeconds);
    await expectBlob('cold herd blob, fetched again', blobUrl(blob), blob);
  }

  say(`${sys.label}: memory (${P.memClients} curls on a cold ${P.memBlob / MiB} MiB blob, on a freshly started process)`);
  {
    const replaced = await readMemory(sys.pid);
    sys = await restart();
    base = `${sys.url}/v2/${s.repo}`;
    const before = await readMemory(sys.pid);
    const reset = await resetPeakMemory(sys.pid);
    const sampler = sampleRss(sys.pid);
    const batch = await runCurls(blobUrl(s.mem), P.memClients);
    const sampled = await sampler.stop();
    const after = await readMemory(sys.pid);
    checkBatch('memory row blob', batch, s.mem.size);
    // VmHWM catches peaks between samples, but only counts from the reset; without one, the sampled peak.
    const peak = reset ? Math.max(sampled, after.hwm) : sampled;
    add('memoryPeakMiB', peak / MiB);
    notes.memory = {
      freshProcess: true,
      rssOfReplacedProcessMiB: replaced.rss / MiB,
      rssBeforeMiB: before.rss / MiB,
      peakResetWorked: reset,
      sampledPeakMiB: sampled / MiB,
      vmHwmMiB: after.hwm / MiB,
      totalS: batch.wallSeconds,
    };
    await expectBlob('memory row blob, fetched again', blobUrl(s.mem), s.mem);
  }

  say(`${sys.label}: upstream economy (${P.econPulls} pulls over ${P.econWindowS} s)`);
  {
    economyProxy.resetCounts();
    upstream.tokenServer?.resetCounts();
    const start = Date.now();
    let firstDone = 0;
    for (let i = 0; i < P.econPulls; i++) {
      const due = start + (i * P.econWindowS * 1000) / P.econPulls;
      if (Date.now() < due) await new Promise((r) => setTimeout(r, due - Date.now()));
      await pullImage(sys.economyPrefix, s.economyRepo, s.economyImage);
      if (i === 0) firstDone = Date.now();
    }
    await new Promise((r) => setTimeout(r, 300));
    const elapsedS = (Date.now() - start) / 1000;
    const reqs = economyProxy.requests();
    const byKind: Record<string, number> = {};
    for (const r of reqs) {
      const k = `${r.method} ${r.kind} ${r.status ?? 'none'}`;
      byKind[k] = (byKind[k] ?? 0) + 1;
    }
    add('economyManifestGetsAfterFirst', reqs.filter((r) => r.method === 'GET' && r.kind === 'manifest' && r.at > firstDone).length);
    add('economyManifestHeads', reqs.filter((r) => r.method === 'HEAD' && r.kind === 'manifest').length);
    add('economyUpstreamTotal', reqs.length);
    notes.economy = {
      pulls: P.econPulls,
      windowSeconds: elapsedS,
      tagTtlSeconds: sys.id === 'distribution' ? 'n/a (distribution revalidates every tag request)' : P.econTtlS,
      freshnessWindows: Math.ceil(elapsedS / P.econTtlS),
      upstreamByMethodKindStatus: byKind,
      tokenRequests: upstream.tokenRequests(),
    };
  }

  const metrics: Metrics = {};
  for (const [k, v] of Object.entries(samples)) (metrics as Record<string, number>)[k] = median(v);
  return { metrics, samples, notes };
}

interface ReplicaRun {
  /** Medians: `one` = all load on replica 0, `many` = the same load spread over all replicas. */
  metrics: { one: ReplicaMetrics; many: ReplicaMetrics };
  samples: Record<string, number[]>;
  notes: Record<string, unknown>;
}

/**
 * Issue 6: N replicas (one Redis, one store) as one mirror. Every figure is taken twice in the same phase, with the
 * same load generators: all of it aimed at replica 0 ("1 replica"; the others idle), then spread over all of them.
 * The order alternates between repetitions so a disturbance on the machine does not always hit the same column.
 */
async function benchReplicas(replicas: SystemUnderTest[], proxy: CountingProxy, s: Seeds): Promise<ReplicaRun> {
  const bases = replicas.map((r) => `${r.url}/v2/${s.repo}`);
  const first = bases[0] as string;
  const targets = { one: bases.map(() => first), many: bases };
  const samples: Record<string, number[]> = {};
  const notes: Record<string, unknown> = {};
  const add = (key: string, v: number): void => {
    (samples[key] ??= []).push(v);
  };
  const order = (rep: number): Array<'one' | 'many'> => (rep % 2 === 0 ? ['one', 'many'] : ['many', 'one']);

  say(`${REPLICAS} replicas: verifying every replica's answers and warming the shared cache`);
  for (let i = 0; i < 2; i++) {
    for (const base of bases) {
      await expectManifest('replica: GET manifest by tag', `${base}/manifests/${s.image.tag}`, s.image);
      await expectManifest('replica: GET manifest by digest', `${base}/manifests/${s.image.digest}`, s.image);
      await expectBlob('replica: GET small blob', `${base}/blobs/${s.small.digest}`, s.small);
    }
  }
  notes.upstreamRequestsDuringWarmUp = proxy.count();
  proxy.resetCounts();

  say(`${REPLICAS} replicas: warm tag manifest and small blob, 1 vs ${REPLICAS} replicas (${REPLICAS} wrk, 16 connections)`);
  const rows: Array<[ReplicaMetricKey, string]> = [
    ['warmTagRps', `/manifests/${s.image.tag}`],
    ['warmSmallBlobRps', `/blobs/${s.small.digest}`],
  ];
  // Where the machine's CPU went: each replica's share (100 = one core) during each run.
  const perWrk: Array<{ row: ReplicaMetricKey; replicas: 'one' | 'many'; reqPerSecondPerWrk: number[]; replicaCpuPercent: number[] }> = [];
  const cpu = (): Promise<number[]> => Promise.all(replicas.map((r) => cpuSeconds(r.pid)));
  for (const [key, path] of rows) {
    // JIT warm-up of every replica, so the idle ones of the 1-replica figure do not start cold in the spread one.
    await runWrkSpread(bases.map((b) => `${b}${path}`), 16, 1);
    for (let i = 0; i < P.reps; i++) {
      for (const which of order(i)) {
        const cpuBefore = await cpu();
        const r = await runWrkSpread(targets[which].map((b) => `${b}${path}`), 16, P.wrkSeconds);
        const cpuAfter = await cpu();
        expect(r.errors === 0 && r.non2xx === 0, `replicas ${key} (${which}): wrk saw ${r.non2xx} non-2xx answers and ${r.errors} socket errors in ${r.requests} requests`);
        add(`${which}.${key}`, r.requestsPerSecond);
        perWrk.push({
          row: key,
          replicas: which,
          reqPerSecondPerWrk: r.perProcess.map((v) => Math.round(v)),
          replicaCpuPercent: cpuAfter.map((c, j) => Math.round(((c - (cpuBefore[j] ?? 0)) / P.wrkSeconds) * 100)),
        });
      }
    }
  }
  notes.upstreamRequestsDuringWarmRows = proxy.count();
  notes.perWrkProcess = perWrk;

  say(`${REPLICAS} replicas: cold herd (${P.herdClients} curls on one replica, then spread over ${REPLICAS})`);
  for (let i = 0; i < P.reps; i++) {
    for (const which of order(i)) {
      const blob = s.replicaHerd[which][i];
      if (blob === undefined) continue;
      proxy.resetCounts();
      const batch = await runCurls(targets[which].map((b) => `${b}/blobs/${blob.digest}`), P.herdClients);
      checkBatch(`replicas cold herd (${which})`, batch, blob.size);
      await new Promise((r) => setTimeout(r, 300));
      const hex = blob.digest.slice('sha256:'.length);
      add(`${which}.coldHerdUpstreamGets`, proxy.count({ method: 'GET', kind: 'blob', pathIncludes: hex }));
      add(`${which}.coldHerdUpstreamHeads`, proxy.count({ method: 'HEAD', kind: 'blob', pathIncludes: hex }));
      add(`${which}.coldHerdTotalS`, batch.wallSeconds);
      // Kept whole and correct, and served from the shared store by every replica.
      for (const base of bases) await expectBlob(`replicas cold herd blob (${which}), fetched again`, `${base}/blobs/${blob.digest}`, blob);
    }
  }

  const metrics: ReplicaRun['metrics'] = { one: {}, many: {} };
  for (const [k, v] of Object.entries(samples)) {
    const [which, key] = k.split('.') as ['one' | 'many', ReplicaMetricKey];
    metrics[which][key] = median(v);
  }
  return { metrics, samples, notes };
}

const CURL_CONNECTIONS = 16;

/** Warm small-blob rate by CURL_CONNECTIONS curl processes, every answer checked. */
async function curlRate(what: string, url: string, size: number, follow = false): Promise<number> {
  const r = await runCurlRate(url, CURL_CONNECTIONS, P.curlRate, size, { follow });
  expect(r.wrong === 0, `${what}: ${r.wrong} of ${r.requests} answers were not 200 with ${size} bytes`);
  return r.requestsPerSecond;
}

interface S3Run {
  streaming: S3Metrics;
  redirect: S3Metrics;
  samples: Record<string, number[]>;
  notes: Record<string, unknown>;
}

/**
 * Issue 10: pullthrough with its blobs in a Ceph RGW bucket (test/support/ceph-rgw.ts, started here, memstore:
 * RAM), first streaming through the mirror, then — on the same bucket and prefix, so the blobs are warm — with
 * storage.s3.redirect (curl follows the 307 to the presigned URL). Embedded metadata, as pullthrough-embedded.
 */
async function benchS3(dir: string, entry: string, upstreamUrl: (proxyUrl: string) => { url: string; username: string; password: string }, upstream: UpstreamRegistry, s: Seeds, runId: string): Promise<S3Run> {
  const samples: Record<string, number[]> = {};
  const notes: Record<string, unknown> = {};
  const add = (key: string, v: number): void => {
    (samples[key] ??= []).push(v);
  };
  let rgw: Rgw | undefined;
  const systems: SystemUnderTest[] = [];
  try {
    say('S3: starting Ceph RGW');
    rgw = await startRgw({ memstoreBytes: smoke ? '1G' : '3G' });
    notes.rgwStartMs = rgw.startMs;
    const admin = s3ClientFor(rgw);
    const bucket = `bench-${runId}`;
    await admin.send(new CreateBucketCommand({ Bucket: bucket }));
    admin.destroy();
    const s3: BenchS3 = { endpoint: rgw.endpoint, bucket, prefix: 'mirror/', accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey };
    const run = async (mode: 'streaming' | 'redirect'): Promise<S3Metrics> => {
      const proxy = await startCountingProxy(upstream.directUrl);
      const own = join(dir, mode);
      await mkdir(own, { recursive: true });
      try {
        say(`S3 ${mode}: starting pullthrough`);
        const sys = await startPullthrough(own, { entry, upstream: upstreamUrl(proxy.url), s3: { ...s3, redirect: mode === 'redirect' }, name: `${S3_ID}-${mode}` });
        systems.push(sys);
        const base = `${sys.url}/v2/${s.repo}`;
        const blobUrl = (b: PushedBlob): string => `${base}/blobs/${b.digest}`;
        const follow = mode === 'redirect';
        for (let i = 0; i < 2; i++) {
          for (const blob of [s.small, s.warmLarge]) {
            const batch = await runCurls(blobUrl(blob), 1, {}, { follow });
            checkBatch(`S3 ${mode}: warm-up`, batch, blob.size);
          }
        }
        await expectBlob(`S3 ${mode}: warm large blob`, blobUrl(s.warmLarge), s.warmLarge);
        if (mode === 'redirect') {
          const answer = await fetch(blobUrl(s.warmLarge), { redirect: 'manual' });
          await answer.arrayBuffer();
          expect(answer.status === 307, `S3 redirect: a kept blob answered ${answer.status}, not 307`);
        }
        proxy.resetCounts();
        const metrics: Record<string, number[]> = {};
        const put = (key: string, v: number): void => {
          (metrics[key] ??= []).push(v);
          add(`${mode}.${key}`, v);
        };
        say(`S3 ${mode}: warm small blob (${mode === 'streaming' ? 'wrk and ' : ''}${CURL_CONNECTIONS} curl)`);
        for (let i = 0; i < P.reps; i++) {
          if (mode === 'streaming') {
            const r = await runWrk(blobUrl(s.small), 16, P.wrkSeconds);
            expect(r.errors === 0 && r.non2xx === 0, `S3 streaming warm small blob: wrk saw ${r.non2xx} non-2xx answers and ${r.errors} socket errors in ${r.requests} requests`);
            put('warmSmallBlobRps', r.requestsPerSecond);
          }
          put('warmSmallBlobCurlRps', await curlRate(`S3 ${mode}: warm small blob (curl)`, blobUrl(s.small), s.small.size, follow));
        }
        say(`S3 ${mode}: warm large blob (curl, 1 client)`);
        for (let i = 0; i < P.reps; i++) {
          const batch = await runCurls(blobUrl(s.warmLarge), 1, {}, { follow });
          checkBatch(`S3 ${mode}: warm large blob`, batch, s.warmLarge.size);
          put('warmLargeMBps1', s.warmLarge.size / 1e6 / batch.wallSeconds);
        }
        notes[`${mode}UpstreamRequestsDuringWarmRows`] = proxy.count();
        if (mode === 'streaming') {
          say('S3 streaming: cold large blob (curl)');
          for (const blob of s.coldLarge) {
            const batch = await runCurls(blobUrl(blob), 1);
            checkBatch('S3 cold large blob', batch, blob.size);
            put('coldLargeTotalS', batch.results[0]?.totalSeconds ?? NaN);
            await expectBlob('S3 cold large blob, fetched again', blobUrl(blob), blob);
          }
        }
        const out: S3Metrics = {};
        for (const [k, v] of Object.entries(metrics)) out[k as keyof S3Metrics] = median(v);
        return out;
      } finally {
        await systems.at(-1)?.stop();
        await proxy.close();
      }
    };
    const streaming = await run('streaming');
    const redirect = await run('redirect');
    return { streaming, redirect, samples, notes };
  } catch (e) {
    const logs = (await Promise.all(systems.map(async (r) => `--- ${r.label} log tail ---\n${(await r.log()).slice(-1500)}`))).join('\n');
    const rgwTail = rgw ? `\n--- rgw log tail ---\n${await rgw.tail().catch(() => '')}` : '';
    throw new Error(`${(e as Error).message}\n${logs}${rgwTail}`, { cause: e });
  } finally {
    await rgw?.stop();
  }
}

async function directReference(dir: string, upstream: UpstreamRegistry, s: Seeds): Promise<{ metrics: Metrics; samples: Record<string, number[]> }> {
  // A client pulling straight from the upstream, through a counting proxy like the mirrors' (the same path their
  // bytes take), with a pull token minted up front: no token dance in the timing, as for a warmed-up client.
  const proxy = await startCountingProxy(upstream.directUrl);
  const token = upstream.tokenServer?.issue([`repository:${s.repo}:pull`]) ?? '';
  // The floors of a relay and of a keeping mirror in Node: the same bytes through the same proxy, passed on
  // and nothing else, or also hashed and written to a file.
  const relay = await startBareRelay(dir, proxy.url, `Bearer ${token}`);
  const keeper = await startBareRelay(dir, proxy.url, `Bearer ${token}`, { keepDir: join(dir, 'bare-keeper') }).catch(async (error: unknown) => {
    await relay.stop();
    throw error;
  });
  const floors = [
    { what: 'bare relay', url: relay.url, pid: relay.pid, total: 'bareRelayTotalS', cpu: 'bareRelayCpuS' },
    { what: 'bare keeper', url: keeper.url, pid: keeper.pid, total: 'bareKeeperTotalS', cpu: 'bareKeeperCpuS' },
  ];
  const samples: Record<string, number[]> = Object.fromEntries(
    ['coldLargeTtfbMs', 'coldLargeTotalS', 'rawRegistryTotalS', ...floors.flatMap((f) => [f.total, f.cpu])].map((key) => [key, []]),
  );
  try {
    for (const blob of s.coldLarge) {
      const url = `/v2/${s.repo}/blobs/${blob.digest}`;
      const batch = await runCurls(`${proxy.url}${url}`, 1, { authorization: `Bearer ${token}` });
      checkBatch('upstream direct', batch, blob.size);
      const r = batch.results[0];
      if (r !== undefined) {
        samples.coldLargeTtfbMs?.push(r.ttfbSeconds * 1000);
        samples.coldLargeTotalS?.push(r.totalSeconds);
      }
      const raw = await runCurls(`${upstream.directUrl}${url}`, 1, { authorization: `Bearer ${token}` });
      checkBatch('upstream registry itself', raw, blob.size);
      samples.rawRegistryTotalS?.push(raw.results[0]?.totalSeconds ?? NaN);
      for (const floor of floors) {
        const { batch: relayed, cpuSeconds: cpu } = await coldFetch(`${floor.url}${url}`, [floor.pid]);
        samples[floor.cpu]?.push(cpu);
        checkBatch(floor.what, relayed, blob.size);
        samples[floor.total]?.push(relayed.results[0]?.totalSeconds ?? NaN);
        await expectBlob(floor.what, `${floor.url}${url}`, blob);
      }
    }
  } finally {
    await relay.stop();
    await keeper.stop();
    await proxy.close();
  }
  return {
    metrics: { coldLargeTtfbMs: median(samples.coldLargeTtfbMs ?? []), coldLargeTotalS: median(samples.coldLargeTotalS ?? []) },
    samples,
  };
}

async function cleanRedis(runId: string, digests: string[]): Promise<void> {
  const u = new URL(REDIS_URL);
  const cli = ['-h', u.hostname, '-p', u.port || '6379'];
  const keys = new Set<string>();
  for (const pattern of [`*bench-${runId}*`, ...digests.map((d) => `*${d}*`)]) {
    const res = await runCommand('redis-cli', [...cli, '--scan', '--pattern', pattern]);
    for (const k of res.stdout.split('\n')) if (k.trim() !== '') keys.add(k.trim());
  }
  if (keys.size > 0) await runCommand('redis-cli', [...cli, 'DEL', ...keys]);
}

const fmtSeconds = (v: number): string => (Number.isFinite(v) ? v.toFixed(2) : '–');

const size = (n: number): string => (n >= 1024 * MiB ? `${n / (1024 * MiB)} GiB` : `${n / MiB} MiB`);

async function main(): Promise<number> {
  const patternSpecs = patternRowSpecs({ large: size(P.midLarge), huge: size(P.warmLarge), curlRequests: P.patternCurl });
  const started = Date.now();
  const runId = Math.random().toString(36).slice(2, 10);
  const info = machine();
  say(`mode ${smoke ? 'smoke' : 'full'}, run ${runId}, ${info.nproc} × ${info.cpu}, ${info.memoryGiB} GiB, node ${info.node}`);

  if (!skipBuild) {
    say('npm run build');
    const build = await runCommand('npm', ['run', 'build'], { cwd: ROOT, timeoutMs: 300_000 });
    if (build.code !== 0) throw new Error(`npm run build failed:\n${build.stdout}${build.stderr}`);
  }
  // PULLTHROUGH_BENCH_ENTRY: bench another build (e.g. of a commit, while the working tree does not build).
  const entry = process.env.PULLTHROUGH_BENCH_ENTRY ?? join(ROOT, 'dist', 'server.js');
  const withRedis = await redisReachable(REDIS_URL);
  if (!withRedis) say(`Redis not reachable at ${REDIS_URL}: pullthrough runs with the embedded store only, no replica rows`);
  const withReplicas = withRedis && (only === undefined || only.includes(REPLICAS_ID));

  const tmp = await makeTempDir('bench');
  let upstream: UpstreamRegistry | undefined;
  const failures: Array<{ system: string; error: string }> = [];
  const perSystem: Partial<Record<SystemId, SystemRun>> = {};
  let seeds: Seeds | undefined;
  let direct: { metrics: Metrics; samples: Record<string, number[]> } = { metrics: {}, samples: {} };
  let replicaRun: ReplicaRun | undefined;
  let s3Run: S3Run | undefined;
  let phase: PhaseResult | undefined;
  const phaseSystems = ['distribution', 'pullthrough-embedded', WORKERS_ID, OFFLOAD_ID, DIRECT_ID];
  // --only=patterns / skopeo pick those parts; system ids among them narrow the systems (by default all).
  const withPatterns = only === undefined || only.includes(PATTERNS_ID) || only.some((id) => [WORKERS_ID, OFFLOAD_ID, DIRECT_ID].includes(id));
  const withSkopeo = only === undefined || only.includes(SKOPEO_ID);
  const phaseWanted = (id: string): boolean => only === undefined || !only.some((o) => phaseSystems.includes(o)) || only.includes(id) || (id === OFFLOAD_ID && only.includes(DIRECT_ID));
  const withS3 = (only === undefined || only.includes(S3_ID)) && rgwInstalled();
  if (!withS3 && (only === undefined || only.includes(S3_ID))) say('radosgw not installed: no S3 rows (apt-get install ceph-mon ceph-osd ceph-common radosgw)');
  try {
    say('starting the upstream registry (token auth) and seeding it');
    upstream = await startUpstreamRegistry({ auth: 'token' });
    const seedStart = Date.now();
    seeds = await seed(upstream, runId, withReplicas);
    say(`seeded in ${((Date.now() - seedStart) / 1000).toFixed(1)} s`);
    direct = await directReference(tmp, upstream, seeds);

    const login = (url: string): { url: string; username: string; password: string } => ({ url, ...(upstream as UpstreamRegistry).credentials });
    const plan: Array<{ id: SystemId; start: (dir: string, main: string, econ: string) => Promise<SystemUnderTest> }> = [
      { id: 'distribution', start: (dir, mainUrl) => startDistributionProxy(dir, login(mainUrl)) },
      ...(withRedis
        ? [{ id: 'pullthrough-redis' as const, start: (dir: string, mainUrl: string, econUrl: string) => startPullthrough(dir, { entry, redis: REDIS_URL, upstream: login(mainUrl), economyUpstream: login(econUrl), economyTagTtl: `${P.econTtlS}s` }) }]
        : []),
      { id: 'pullthrough-embedded', start: (dir, mainUrl, econUrl) => startPullthrough(dir, { entry, upstream: login(mainUrl), economyUpstream: login(econUrl), economyTagTtl: `${P.econTtlS}s` }) },
    ];
    for (const step of plan) {
      if (only !== undefined && !only.includes(step.id)) continue;
      const proxy = await startCountingProxy(upstream.directUrl);
      // distribution has one remote, so its economy pulls go through its main proxy (counts are reset first).
      const economyProxy = step.id === 'distribution' ? proxy : await startCountingProxy(upstream.directUrl);
      const dir = join(tmp, step.id);
      await mkdir(dir, { recursive: true });
      let sys: SystemUnderTest | undefined;
      const restart = async (): Promise<SystemUnderTest> => {
        say(`restarting ${step.id}`);
        await sys?.stop();
        sys = undefined;
        sys = await step.start(dir, proxy.url, economyProxy.url);
        return sys;
      };
      try {
        say(`starting ${step.id}`);
        sys = await step.start(dir, proxy.url, economyProxy.url);
        perSystem[step.id] = await benchSystem(sys, restart, proxy, economyProxy, upstream, seeds);
      } catch (e) {
        const log = sys === undefined ? '' : (await sys.log()).slice(-3000);
        failures.push({ system: step.id, error: `${(e as Error).message}${log ? `\n--- log tail ---\n${log}` : ''}` });
        say(`${step.id} FAILED: ${(e as Error).message}`);
      } finally {
        await sys?.stop();
        await proxy.close();
        if (economyProxy !== proxy) await economyProxy.close();
      }
    }

    if (withReplicas) {
      // This run's keys cleared, so the replicas do not start from the tags and manifests pullthrough-redis left.
      await cleanRedis(runId, [seeds.image.digest, seeds.economyImage.digest]);
      const proxy = await startCountingProxy(upstream.directUrl);
      const dir = join(tmp, REPLICAS_ID);
      await mkdir(dir, { recursive: true });
      let replicas: SystemUnderTest[] = [];
      try {
        say(`starting ${REPLICAS} pullthrough replicas (one Redis, one store directory)`);
        const opts = { entry, redis: REDIS_URL, upstream: login(proxy.url) };
        replicas = await startReplicas(dir, REPLICAS, opts);
        replicaRun = await benchReplicas(replicas, proxy, seeds);
      } catch (e) {
        const logs = (await Promise.all(replicas.map(async (r) => `--- ${r.label} log tail ---\n${(await r.log()).slice(-1500)}`))).join('\n');
        failures.push({ system: REPLICAS_ID, error: `${(e as Error).message}\n${logs}` });
        say(`${REPLICAS_ID} FAILED: ${(e as Error).message}`);
      } finally {
        await Promise.all(replicas.map((r) => r.stop()));
        await proxy.close();
      }
    }

    if (withPatterns || withSkopeo) {
      const dir = join(tmp, PATTERNS_ID);
      await mkdir(dir, { recursive: true });
      try {
        const tls = await makeSelfSignedCert(dir);
        const content = { repo: seeds.repo, image: seeds.image, small: seeds.small, large: seeds.midLarge, huge: seeds.warmLarge };
        const up = upstream;
        phase = await benchPhase(
          { dir, entry, upstream: up, credentials: up.credentials, redis: withRedis ? REDIS_URL : undefined, tls, nginxWorkers: info.nproc as number, wanted: phaseWanted, say },
          content,
          {
            reps: P.patternReps,
            wrkSeconds: P.patternWrkSeconds,
            largeSeconds: P.patternLargeSeconds,
            curlRequests: P.patternCurl,
            parallel: smoke,
            nginxWorkers: info.nproc as number,
            rows: withPatterns ? patternSpecs : undefined,
            skopeo: withSkopeo ? { reps: P.skopeoReps, layers: P.skopeoLayers, layerBytes: P.skopeoLayerBytes } : undefined,
          },
        );
      } catch (e) {
        failures.push({ system: PATTERNS_ID, error: (e as Error).message });
        say(`${PATTERNS_ID} FAILED: ${(e as Error).message.split('\n')[0] ?? ''}`);
      }
    }

    if (withS3) {
      const dir = join(tmp, S3_ID);
      await mkdir(dir, { recursive: true });
      try {
        s3Run = await benchS3(dir, entry, login, upstream, seeds, runId);
      } catch (e) {
        failures.push({ system: S3_ID, error: (e as Error).message });
        say(`${S3_ID} FAILED: ${(e as Error).message.split('\n')[0] ?? ''}`);
      }
    }
  } finally {
    if (withRedis && seeds !== undefined) {
      await cleanRedis(runId, [seeds.image.digest, seeds.economyImage.digest]).catch(() => undefined);
    }
    await upstream?.stop();
    await removeTempDir(tmp);
  }

  const economyWindows = Math.ceil(P.econWindowS / P.econTtlS);
  const specs = rowSpecs(economyWindows, {
    idleS: P.idleS,
    warmLarge: size(P.warmLarge),
    coldLarge: size(P.coldLarge),
    herd: size(P.herd),
    herdClients: P.herdClients,
    mem: size(P.memBlob),
    memClients: P.memClients,
  });
  const metrics: Partial<Record<SystemId, Metrics>> = {};
  for (const [id, run] of Object.entries(perSystem)) metrics[id as SystemId] = run.metrics;
  const rows = buildRows(specs, metrics, direct.metrics);
  const table = markdownTable(rows);
  const replicaSpecs = replicaRowSpecs(REPLICAS, { herd: size(P.herd), herdClients: P.herdClients });
  const replicaRows = replicaRun === undefined ? [] : buildReplicaRows(replicaSpecs, replicaRun.metrics.one, replicaRun.metrics.many);
  // The S3 table compares with the filesystem store of the same metadata kind (embedded), else the Redis one.
  const filesystemId: SystemId = perSystem['pullthrough-embedded'] ? 'pullthrough-embedded' : 'pullthrough-redis';
  const s3Specs = s3RowSpecs({ warmLarge: size(P.warmLarge), coldLarge: size(P.coldLarge), curlConnections: CURL_CONNECTIONS });
  const s3Rows: S3ReportRow[] =
    s3Run === undefined
      ? []
      : buildS3Rows(s3Specs, { distribution: metrics.distribution ?? {}, filesystem: metrics[filesystemId] ?? {}, streaming: s3Run.streaming, redirect: s3Run.redirect });
  const patternRows = phase?.run === undefined ? [] : buildPatternRows(patternSpecs, phase.run.cells);
  const skopeoImage = `${P.skopeoLayers} × ${size(P.skopeoLayerBytes)}`;
  const skopeoRows = phase?.skopeo === undefined ? [] : buildSkopeoRows(skopeoImage, phase.skopeo.metrics);
  const runtimeSeconds = (Date.now() - started) / 1000;

  if (smoke) {
    for (const spec of specs) {
      for (const id of Object.keys(perSystem) as SystemId[]) {
        const v = metrics[id]?.[spec.key];
        if (v === undefined || !Number.isFinite(v)) failures.push({ system: id, error: `smoke: row "${spec.row}" produced no number` });
      }
    }
    if (withS3 && s3Run !== undefined) {
      for (const [spec, r] of s3Specs.map((x, i) => [x, s3Rows[i]] as const)) {
        const cells: Array<[string, number | undefined]> = [['S3 streaming', r?.streaming], ...(spec.redirect ? [['S3 redirect', r?.redirect] as [string, number | undefined]] : [])];
        for (const [what, v] of cells) if (v === undefined || !Number.isFinite(v)) failures.push({ system: S3_ID, error: `smoke: S3 row "${spec.row}" (${what}) produced no number` });
      }
    }
    if (phase?.run !== undefined) {
      for (const spec of patternSpecs) {
        for (const id of Object.keys(phase.labels) as Array<keyof PhaseResult['labels']>) {
          if (id === 'nginx-direct' && !spec.blob) continue;
          const v = phase.run.cells[spec.key]?.[id]?.value;
          if (v === undefined || !Number.isFinite(v)) failures.push({ system: id, error: `smoke: row "${spec.row}" produced no number` });
        }
      }
    }
    if (phase?.skopeo !== undefined) {
      for (const [id, m] of Object.entries(phase.skopeo.metrics)) {
        for (const [k, v] of Object.entries(m)) {
          // The upstream's own CPU is not measured (its token server runs inside this process).
          const unmeasured = id === SKOPEO_UPSTREAM_ID && k.includes('ServerCpu');
          if (!unmeasured && !Number.isFinite(v)) failures.push({ system: id, error: `smoke: skopeo row ${k} produced no number` });
        }
      }
    }
    if (withReplicas) {
      for (const spec of replicaSpecs) {
        const r = replicaRows.find((x) => x.row === spec.row);
        if (r === undefined || !Number.isFinite(r.one ?? NaN) || !Number.isFinite(r.many ?? NaN)) {
          failures.push({ system: REPLICAS_ID, error: `smoke: row "${spec.row}" produced no number` });
        }
      }
    }
  }

  const machineLine = `Machine: ${info.nproc} × ${info.cpu}, ${info.memoryGiB} GiB RAM, Node ${info.node}, ${info.distribution}, ${info.wrk}.`;
  const setup =
    `Mode ${smoke ? 'smoke' : 'full'}: medians of ${P.reps} repetition(s); wrk ${P.wrkSeconds} s per repetition, 1 thread. ` +
    `Ratio = pullthrough ÷ distribution. Upstream economy: ${P.econPulls} docker-like pulls (HEAD tag, GET manifest by digest, blobs) ` +
    `spread over ${P.econWindowS} s, pullthrough tagTtl ${P.econTtlS} s (${economyWindows} freshness windows); distribution has no tag TTL. ` +
    `"Upstream direct" = curl through a counting proxy like the mirrors' (a worker thread of the bench runner), with a pre-minted token; ` +
    `the registry itself, no proxy, sent the cold ${size(P.coldLarge)} in ${fmtSeconds(median(direct.samples.rawRegistryTotalS ?? []))} s (median); ` +
    `a bare relay through the same proxy (test/bench/bare-relay.js: one reused buffer ring, no hash, no disk) took ` +
    `${fmtSeconds(median(direct.samples.bareRelayTotalS ?? []))} s at ${fmtSeconds(median(direct.samples.bareRelayCpuS ?? []))} CPU-s, ` +
    `and as a bare keeper (the same, also hashing and writing to a file) ` +
    `${fmtSeconds(median(direct.samples.bareKeeperTotalS ?? []))} s at ${fmtSeconds(median(direct.samples.bareKeeperCpuS ?? []))} CPU-s. ` +
    `CPU of the system: user + system seconds of its processes from the request to 300 ms after the last byte. ` +
    `The memory row runs on a freshly restarted process (same configuration and store); its RSS before the row, and that of the process it replaced, are in the JSON notes.`;
  const replicaSetup =
    `${REPLICAS} pullthrough processes sharing one Redis and one store directory, same machine. "1 replica": the load all on ` +
    `replica 0 (the others idle); "${REPLICAS} replicas": the same load spread over all. Warm rows: ${REPLICAS} wrk processes at once ` +
    `(1 thread each, 16 connections split ${Array.from({ length: REPLICAS }, (_, i) => Math.floor(16 / REPLICAS) + (i < 16 % REPLICAS ? 1 : 0)).join(' + ')}), ` +
    `req/s summed. Cold herd: ${P.herdClients} curls on one cold blob, client i on replica i mod ${REPLICAS}; upstream GETs counted. Ratio = ${REPLICAS} ÷ 1.`;
  const replicaPart =
    replicaRun === undefined ? [] : ['', `### Replicas: 1 vs ${REPLICAS} (pullthrough, Redis, one shared store)`, '', replicaSetup, '', replicaMarkdownTable(replicaRows, REPLICAS)];
  const s3Setup =
    `pullthrough with storage.s3 on a single-node Ceph RGW (memstore, loopback) started by the bench, embedded metadata; "S3 streaming" ` +
    `serves kept blobs from the bucket through the mirror, "S3 redirect" (storage.s3.redirect: true, same bucket, blobs warm) answers ` +
    `307 to a presigned URL that curl follows (-L). Compared with ${filesystemId} (filesystem store) and distribution from the same run. ` +
    `The curl rate row: ${CURL_CONNECTIONS} curl processes × ${P.curlRate} GETs each over kept-alive connections, every answer checked.`;
  const s3Part = s3Rows.length === 0 ? [] : ['', '### Object storage (S3 on Ceph RGW)', '', s3Setup, '', s3MarkdownTable(s3Rows, `pullthrough (filesystem, ${filesystemId.replace('pullthrough-', '')})`)];
  const resumption = Object.entries((phase?.notes.tlsResumption ?? {}) as Record<string, ResumptionProbe>)
    .map(([id, r]) => `${phase?.labels[id as keyof PhaseResult['labels']] ?? id} ${r.reused}/${r.tries} (${r.protocol})`)
    .join(', ');
  const workersNote = phase?.notes.workers as { metadata?: string; processes?: number; skipped?: string; embeddedRefused?: string } | undefined;
  const patternSetup =
    `All systems up at once; each row measured on each system in turn (order rotating), ${smoke ? '1 repetition, all systems at once (smoke: figures only show the row works)' : `medians of ${P.patternReps}`}; ` +
    `wrk (1 thread) ${P.patternWrkSeconds} s per measurement for GET rows (${P.patternLargeSeconds} s for the large-blob rows), ApacheBench (ab, HTTP/1.0) for HEAD rows (wrk 4.1 never completes a HEAD ` +
    `whose answer has a Content-Length). Each cell: figure · CPU seconds all of the system's processes used during that measurement ` +
    `(distribution: 1 process; pullthrough: 1, or the cluster primary and its workers; offload: nginx master + ${info.nproc} workers + the mirror; ` +
    `nginx direct: master + ${info.nproc} workers). "Connection: close": every request a new TCP connection (checked: the host opened at least one ` +
    `connection per request); over HTTPS a new handshake, and wrk and curl offer the previous connection's session (wrk keeps it across its ` +
    `reconnect, curl caches it per invocation), so these rows mix full and resumed handshakes as real clients do. The "sessions resumed" rows: ` +
    `16 curl processes × ${P.patternCurl} GETs each with Connection: close, one invocation each. TLS: self-signed ECDSA P-256 certificate; ` +
    `pullthrough and distribution terminate TLS themselves, nginx for the offload front. TLS session resumption (openssl s_client -sess_out, ` +
    `then 4 × -sess_in: connections resumed): ${resumption || 'not measured'}. workers: auto = ${workersNote?.skipped ?? (workersNote?.processes === 1 ? `1 process: the build ignored workers: auto (not functional yet), so "auto ÷ 1" compares two 1-process mirrors, ${workersNote.metadata ?? '?'} metadata` : `${workersNote?.processes ?? '?'} processes (primary + workers), ${workersNote?.metadata ?? '?'} metadata`)}` +
    `${workersNote?.embeddedRefused ? ` — embedded refused: ${workersNote.embeddedRefused}` : ''}. Upstream requests during the rows, all systems: ${String(phase?.notes.upstreamRequestsDuringRows ?? '–')} (distribution asks upstream on every tag request). ` +
    `The 2-core machine is shared with other work: single figures are noisy, the interleaved ratios less so.`;
  const patternPart = patternRows.length === 0 ? [] : ['', '### Connection patterns, TLS, offload, workers (issue 11)', '', patternSetup, '', patternMarkdownTable(patternRows, phase?.labels ?? {})];
  const skopeoSetup =
    `${info.skopeo}: copy docker://HOST/REPO:TAG dir:OUT (plain HTTP), timed from start to exit; a new ${skopeoImage} image (random, uncompressed layers) ` +
    `per repetition, so "cold" is content no system has seen; "warm" pulls it again; "4 warm" = 4 copies at once, time until all are done. ` +
    `Every written blob hashed against its digest (untimed). "upstream direct" pulls from the upstream registry itself (its own disk, token auth, no ` +
    `mirror): what the client reaches on this machine without any mirror. CPU rows: user + system seconds of skopeo, and of all the system's ` +
    `processes during the same pull. ${smoke ? '1 repetition' : `Medians of ${P.skopeoReps}`}; systems take turns within a repetition.`;
  const skopeoPart = skopeoRows.length === 0 ? [] : ['', '### Real client: skopeo (issue 11)', '', skopeoSetup, '', skopeoMarkdownTable(skopeoRows, phase?.skopeoLabels ?? {})];
  const out = [`## pullthrough vs distribution 2.8 proxy (${new Date().toISOString().slice(0, 10)})`, '', machineLine, setup, '', table, ...replicaPart, ...s3Part, ...patternPart, ...skopeoPart, ''].join('\n');
  process.stdout.write(`\n${out}\n`);

  const resultsDir = join(ROOT, 'bench-results');
  await mkdir(resultsDir, { recursive: true });
  const file = join(resultsDir, `${smoke ? 'smoke' : 'latest'}${only === undefined ? '' : '-partial'}.json`);
  const json = {
    mode: smoke ? 'smoke' : 'full',
    date: new Date().toISOString(),
    runtimeSeconds,
    machine: info,
    parameters: { ...P, economyWindows },
    rows,
    directReference: direct,
    systems: perSystem,
    replicaRows,
    replicas: replicaRun === undefined ? undefined : { count: REPLICAS, ...replicaRun },
    s3Rows,
    s3: s3Run,
    patternRows,
    patterns: phase === undefined ? undefined : { labels: phase.labels, notes: phase.notes, ...phase.run },
    skopeoRows,
    skopeo: phase?.skopeo,
    failures,
    markdown: out,
  };
  await writeFile(file, `${JSON.stringify(json, null, 2)}\n`);
  process.stdout.write(`results: ${file}\nruntime: ${runtimeSeconds.toFixed(0)} s\n`);

  for (const f of failures) process.stderr.write(`\nFAILED ${f.system}: ${f.error}\n`);
  return failures.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  async (e: unknown) => {
    process.stderr.write(`bench failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);


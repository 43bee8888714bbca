// Issue 11's rows: the connection patterns real clients use (a new TCP connection per request, as dockerd's
// registry client; HTTPS with and without keep-alive), the big-blob rows with pullthrough's nginx offload and
// nginx serving the files directly as the ceiling, and workers: auto against 1 worker. All systems run at once
// and take turns on each row, so the ratios are interleaved; every cell carries the CPU its processes used.

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { startCountingProxy, type CountingProxy } from '../e2e/support/counting-proxy.ts';
import type { SeededImage } from '../e2e/support/images.ts';
import type { UpstreamRegistry } from '../e2e/support/upstream-registry.ts';
import { checkBatch, expect, expectBlob, expectManifest, WrongAnswer } from './checks.ts';
import { cpuSecondsOf, median, runAbHead, runCurlRate, runCurls, runWrk, tcpActiveOpens, type WrkResult } from './load.ts';
import type { PatternCell, PatternRowSpec, PatternSystemId } from './report.ts';
import type { PushedBlob } from './seed-blob.ts';
import { startDistributionProxy, startNginxDirect, startOffload, startPullthrough, type PullthroughOptions, type SystemUnderTest, type TlsFiles } from './systems.ts';
import { benchSkopeo, SKOPEO_UPSTREAM_ID, type SkopeoRun, type SkopeoTarget } from './skopeo-rows.ts';
import { probeResumption, type ResumptionProbe } from './tls.ts';

export interface PhaseSystem {
  id: PatternSystemId;
  label: string;
  plain: SystemUnderTest;
  tls: SystemUnderTest;
  /** nginx-direct: blob rows only. */
  blobOnly: boolean;
  stop(): Promise<void>;
}

export interface PhaseContent {
  repo: string;
  image: SeededImage;
  small: PushedBlob;
  large: PushedBlob;
  huge: PushedBlob;
}

export interface PhaseParams {
  reps: number;
  wrkSeconds: number;
  /** wrk seconds for the large-blob rows. */
  largeSeconds: number;
  curlRequests: number;
  /** Smoke: all systems measured at once per row (quick; the figures only show that each row works). */
  parallel: boolean;
  nginxWorkers: number;
}

export interface StartContext {
  dir: string;
  entry: string;
  upstream: UpstreamRegistry;
  credentials: { username: string; password: string };
  redis: string | undefined;
  tls: TlsFiles;
  nginxWorkers: number;
  wanted: (id: string) => boolean;
  say: (m: string) => void;
}

export interface StartedPhase {
  systems: PhaseSystem[];
  proxies: CountingProxy[];
  notes: Record<string, unknown>;
  stopAll(): Promise<void>;
}

/**
 * Starts every system of the phase, each pullthrough and distribution twice (plain and TLS: `tls` makes a
 * listener HTTPS only), nginx ones once with both listeners. workers: auto with embedded metadata; when that
 * refuses to start, with Redis next to a 1-worker Redis process as its reference; without Redis, skipped.
 */
export async function startPhase(ctx: StartContext): Promise<StartedPhase> {
  const proxies: CountingProxy[] = [];
  const systems: PhaseSystem[] = [];
  const notes: Record<string, unknown> = {};
  const login = async (): Promise<PullthroughOptions['upstream']> => {
    const proxy = await startCountingProxy(ctx.upstream.directUrl);
    proxies.push(proxy);
    return { url: proxy.url, ...ctx.credentials };
  };
  const sub = async (name: string): Promise<string> => {
    const d = join(ctx.dir, name);
    await mkdir(d, { recursive: true });
    return d;
  };
  const pair = async (id: PatternSystemId, label: string, start: (dir: string, tls: TlsFiles | undefined) => Promise<SystemUnderTest>): Promise<PhaseSystem> => {
    const plain = await start(await sub(id), undefined);
    try {
      const tls = await start(await sub(`${id}-tls`), ctx.tls);
      const sys = { id, label, plain, tls, blobOnly: false, stop: async () => void (await Promise.all([plain.stop(), tls.stop()])) };
      systems.push(sys);
      return sys;
    } catch (e) {
      await plain.stop();
      throw e;
    }
  };
  const pullthrough = (extra: Partial<PullthroughOptions>) => async (dir: string, tls: TlsFiles | undefined) =>
    startPullthrough(dir, { entry: ctx.entry, upstream: await login(), ...extra, ...(tls && { tls }) });
  const stopAll = async (): Promise<void> => {
    await Promise.all(systems.map((s) => s.stop()));
    await Promise.all(proxies.map((p) => p.close()));
  };
  try {
    if (ctx.wanted('distribution')) await pair('distribution', 'distribution', async (dir, tls) => startDistributionProxy(dir, await login(), { ...(tls && { tls }) }));
    if (ctx.wanted('pullthrough-embedded')) await pair('pullthrough', 'pullthrough', pullthrough({}));
    if (ctx.wanted('pullthrough-workers')) {
      try {
        const sys = await pair('pullthrough-workers', 'workers: auto', pullthrough({ workers: 'auto' }));
        notes.workers = { metadata: 'embedded', processes: (await sys.plain.pids()).length };
      } catch (e) {
        // The first line naming workers, with the next (the config error's detail is on its own line).
        const lines = (e as Error).message.split('\n');
        const at = Math.max(0, lines.findIndex((l) => /workers/i.test(l)));
        const reason = lines.slice(at, at + 2).map((l) => l.trim()).join(' ');
        if (ctx.redis === undefined) {
          notes.workers = { skipped: `workers: auto did not start with embedded metadata and Redis is not reachable: ${reason}` };
          ctx.say(`workers: SKIPPED (${reason})`);
        } else {
          ctx.say(`workers: auto refused with embedded metadata (${reason}); using Redis, next to a 1-worker Redis process`);
          const sys = await pair('pullthrough-workers', 'workers: auto (Redis)', pullthrough({ workers: 'auto', redis: ctx.redis }));
          await pair('pullthrough-workers-base', '1 worker (Redis)', pullthrough({ redis: ctx.redis }));
          notes.workers = { metadata: 'redis (fallback)', embeddedRefused: reason, processes: (await sys.plain.pids()).length };
        }
      }
    }
    if (ctx.wanted('pullthrough-offload')) {
      const both = await startOffload(await sub('pullthrough-offload'), { entry: ctx.entry, upstream: await login(), tls: ctx.tls, nginxWorkers: ctx.nginxWorkers });
      systems.push({ id: 'pullthrough-offload', label: 'offload (nginx)', ...both, blobOnly: false });
      if (ctx.wanted('nginx-direct')) {
        const direct = await startNginxDirect(await sub('nginx-direct'), join(ctx.dir, 'pullthrough-offload', 'storage'), ctx.tls, ctx.nginxWorkers);
        systems.push({ id: 'nginx-direct', label: 'nginx direct', ...direct, blobOnly: true });
      }
    }
  } catch (e) {
    await stopAll();
    throw e;
  }
  return { systems, proxies, notes, stopAll };
}

function blobPath(c: PhaseContent, b: PushedBlob): string {
  return `/v2/${c.repo}/blobs/${b.digest}`;
}

/**
 * Every endpoint's answers checked and its cache warmed. nginx-direct reads the offload mirror's store, so it
 * comes after the offload system. Each is fetched several times: with workers, each worker should have met them.
 */
export async function warmPhase(systems: PhaseSystem[], c: PhaseContent, say: (m: string) => void): Promise<void> {
  for (const sys of systems) {
    for (const ep of [sys.plain, sys.tls]) {
      say(`${ep.label}: verifying answers and warming the cache`);
      const base = `${ep.url}/v2/${c.repo}`;
      for (let i = 0; i < 4; i++) {
        if (!sys.blobOnly) {
          await expectManifest(`${ep.label}: GET manifest by tag`, `${base}/manifests/${c.image.tag}`, c.image);
          await expectManifest(`${ep.label}: GET manifest by digest`, `${base}/manifests/${c.image.digest}`, c.image);
        }
        for (const blob of [c.small, c.large, ...(ep === sys.plain ? [c.huge] : [])]) await expectBlob(`${ep.label}: GET blob`, `${ep.url}${blobPath(c, blob)}`, blob);
      }
    }
  }
}

export async function probeAll(systems: PhaseSystem[], dir: string, tries: number): Promise<Record<string, ResumptionProbe>> {
  const out: Record<string, ResumptionProbe> = {};
  for (const sys of systems) out[sys.id] = await probeResumption(sys.tls.url, dir, tries);
  return out;
}

interface Measured {
  value: number;
  cpuS: number;
  requests: number;
  /** TCP connections opened on this host while measuring (all clients' on the machine: a lower bound check). */
  opens: number;
}

/**
 * A run that completed no request at all (a busy machine can stall 16 TLS handshakes past a 1 s smoke run) is
 * taken once more; a second empty run, like any error, fails the row.
 */
async function measure(sys: PhaseSystem, spec: PatternRowSpec, c: PhaseContent, p: PhaseParams): Promise<Measured> {
  try {
    return await measureOnce(sys, spec, c, p);
  } catch (e) {
    if (!(e instanceof EmptyRun)) throw e;
    return measureOnce(sys, spec, c, p);
  }
}

class EmptyRun extends WrongAnswer {}

async function measureOnce(sys: PhaseSystem, spec: PatternRowSpec, c: PhaseContent, p: PhaseParams): Promise<Measured> {
  const ep = spec.transport === 'https' || spec.transport === 'httpsClose' ? sys.tls : sys.plain;
  const close = spec.transport === 'httpClose' || spec.transport === 'httpsClose';
  const path = {
    tagHead: `/v2/${c.repo}/manifests/${c.image.tag}`,
    tag: `/v2/${c.repo}/manifests/${c.image.tag}`,
    tagCurl: `/v2/${c.repo}/manifests/${c.image.tag}`,
    digest: `/v2/${c.repo}/manifests/${c.image.digest}`,
    small: blobPath(c, c.small),
    smallCurl: blobPath(c, c.small),
    large: blobPath(c, c.large),
    huge1: blobPath(c, c.huge),
    huge8: blobPath(c, c.huge),
  }[spec.target];
  const url = `${ep.url}${path}`;
  const what = `${sys.label}, ${spec.row}`;
  const pids = await ep.pids();
  const cpu0 = await cpuSecondsOf(pids);
  const opens0 = await tcpActiveOpens();
  let value: number;
  let requests: number;
  const checkRate = (r: WrkResult, tool: string): void => {
    expect(r.errors === 0 && r.non2xx === 0, `${what}: ${tool} saw ${r.non2xx} non-2xx answers and ${r.errors} socket errors in ${r.requests} requests`);
    if (r.requests === 0) throw new EmptyRun(`${what}: ${tool} completed no request`);
  };
  switch (spec.target) {
    case 'tagHead': {
      const r = await runAbHead(url, 16, p.wrkSeconds, { close });
      checkRate(r, 'ab');
      [value, requests] = [r.requestsPerSecond, r.requests];
      break;
    }
    case 'huge1':
    case 'huge8': {
      const clients = spec.target === 'huge1' ? 1 : 8;
      const batch = await runCurls(url, clients);
      checkBatch(what, batch, c.huge.size);
      [value, requests] = [(clients * c.huge.size) / 1e6 / batch.wallSeconds, clients];
      break;
    }
    case 'tagCurl':
    case 'smallCurl': {
      const size = spec.target === 'tagCurl' ? c.image.manifest.length : c.small.size;
      const headers = { connection: 'close', ...(spec.target === 'tagCurl' && { accept: c.image.mediaType }) };
      const r = await runCurlRate(url, 16, p.curlRequests, size, { headers, insecure: true });
      expect(r.wrong === 0, `${what}: ${r.wrong} of ${r.requests} answers were not 200 with ${size} bytes`);
      [value, requests] = [r.requestsPerSecond, r.requests];
      break;
    }
    default: {
      const large = spec.target === 'large';
      const r = await runWrk(url, 16, large ? p.largeSeconds : p.wrkSeconds, { close });
      // Large rows in MB/s from the bytes read: 16 transfers of a large blob (over TLS, on a busy machine) can
      // outlast a short run, and counting only completed ones would report nothing, or a figure in steps of 16.
      const bytesPerSecond = r.bytesPerSecond ?? 0;
      if (large) expect(r.errors === 0 && r.non2xx === 0 && bytesPerSecond > 0, `${what}: wrk read ${bytesPerSecond} B/s with ${r.non2xx} non-2xx answers and ${r.errors} socket errors`);
      else checkRate(r, 'wrk');
      [value, requests] = [large ? bytesPerSecond / 1e6 : r.requestsPerSecond, r.requests];
    }
  }
  const cpuS = (await cpuSecondsOf(pids)) - cpu0;
  const opens = (await tcpActiveOpens()) - opens0;
  // A close row is only what it says if the client really opened a connection per request.
  if (close) expect(opens >= requests, `${what}: ${requests} requests but only ${opens} TCP connections opened on this host`);
  return { value, cpuS, requests, opens };
}

export interface PhaseRun {
  cells: Record<string, Partial<Record<PatternSystemId, PatternCell>>>;
  samples: Record<string, Partial<Record<PatternSystemId, Measured[]>>>;
}

/** Each row on each system in turn (order rotating per repetition and row); in smoke, all systems at once. */
export async function runPhaseRows(systems: PhaseSystem[], specs: PatternRowSpec[], c: PhaseContent, p: PhaseParams, say: (m: string) => void): Promise<PhaseRun> {
  const samples: PhaseRun['samples'] = {};
  const record = (spec: PatternRowSpec, id: PatternSystemId, m: Measured): void => {
    ((samples[spec.key] ??= {})[id] ??= []).push(m);
  };
  for (let rep = 0; rep < p.reps; rep++) {
    say(`connection patterns: repetition ${rep + 1}/${p.reps} (${specs.length} rows × ${systems.length} systems)`);
    for (const [n, spec] of specs.entries()) {
      const on = systems.filter((s) => spec.blob || !s.blobOnly);
      if (p.parallel) {
        const got = await Promise.all(on.map((s) => measure(s, spec, c, p)));
        got.forEach((m, i) => record(spec, (on[i] as PhaseSystem).id, m));
        continue;
      }
      for (let i = 0; i < on.length; i++) {
        const sys = on[(i + rep + n) % on.length] as PhaseSystem;
        record(spec, sys.id, await measure(sys, spec, c, p));
      }
    }
  }
  const cells: PhaseRun['cells'] = {};
  for (const [key, bySystem] of Object.entries(samples)) {
    const row: Partial<Record<PatternSystemId, PatternCell>> = (cells[key] = {});
    for (const [id, ms] of Object.entries(bySystem) as Array<[PatternSystemId, Measured[]]>) {
      row[id] = { value: median(ms.map((m) => m.value)), cpuS: median(ms.map((m) => m.cpuS)) };
    }
  }
  return { cells, samples };
}

export interface PhaseResult {
  run: PhaseRun | undefined;
  skopeo: SkopeoRun | undefined;
  labels: Partial<Record<PatternSystemId, string>>;
  skopeoLabels: Record<string, string>;
  notes: Record<string, unknown>;
}

/**
 * The whole phase: start, verify and warm every system, show TLS resumption, measure the rows, then (same
 * systems, still up) the skopeo rows through distribution, pullthrough and the offload front.
 */
export async function benchPhase(
  ctx: StartContext,
  c: PhaseContent,
  p: PhaseParams & { rows: PatternRowSpec[] | undefined; skopeo: { reps: number; layers: number; layerBytes: number } | undefined },
): Promise<PhaseResult> {
  const phase = await startPhase(ctx);
  const notes: Record<string, unknown> = { ...phase.notes, nginxWorkers: ctx.nginxWorkers };
  try {
    const labels: PhaseResult['labels'] = {};
    for (const s of phase.systems) labels[s.id] = s.label;
    await warmPhase(phase.systems, c, ctx.say);
    for (const proxy of phase.proxies) proxy.resetCounts();
    ctx.say('TLS session resumption (openssl s_client -sess_out, then -sess_in × 4)');
    notes.tlsResumption = await probeAll(phase.systems, ctx.dir, 4);
    const run = p.rows === undefined ? undefined : await runPhaseRows(phase.systems, p.rows, c, p, ctx.say);
    // Warm rows served from the caches: what each system asked its upstream meanwhile.
    notes.upstreamRequestsDuringRows = phase.proxies.reduce((a, x) => a + x.count(), 0);
    let skopeo: SkopeoRun | undefined;
    const skopeoLabels: Record<string, string> = {};
    if (p.skopeo !== undefined) {
      const through = phase.systems.filter((s) => s.id === 'distribution' || s.id === 'pullthrough' || s.id === 'pullthrough-offload');
      const upstreamDirect: SkopeoTarget = { id: SKOPEO_UPSTREAM_ID, label: 'upstream direct (no mirror)', url: ctx.upstream.directUrl, creds: ctx.credentials };
      const targets: SkopeoTarget[] = [...through.map((s) => ({ id: s.id, label: s.label, url: s.plain.url, pids: () => s.plain.pids() })), upstreamDirect];
      for (const t of targets) skopeoLabels[t.id] = t.label;
      const scratch = join(ctx.dir, 'skopeo-out');
      await mkdir(scratch, { recursive: true });
      skopeo = await benchSkopeo(
        targets,
        ctx.upstream,
        { ...p.skopeo, repo: `${c.repo}-skopeo`, scratch, say: ctx.say },
      );
    }
    return { run, skopeo, labels, skopeoLabels, notes };
  } catch (e) {
    const logs = (await Promise.all(phase.systems.map(async (s) => `--- ${s.label} log tail ---\n${(await s.plain.log()).slice(-1500)}`))).join('\n');
    throw new Error(`${(e as Error).message}\n${logs}`, { cause: e });
  } finally {
    await phase.stopAll();
  }
}

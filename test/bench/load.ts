// Load generators, each a separate process so the runner's own event loop (which also hosts the upstream's
// counting proxies) never throttles a system: wrk for request rates, curl for blob transfers and timings.
// Plus the untimed checks: fetch-and-hash, and memory readings from /proc.

import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { runCommand } from '../e2e/support/run-command.ts';

export const MANIFEST_ACCEPT =
  'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json, ' +
  'application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json';

const WRK_SCRIPT = fileURLToPath(new URL('./wrk-report.lua', import.meta.url));

export interface WrkResult {
  requestsPerSecond: number;
  requests: number;
  errors: number;
  non2xx: number;
  p50Ms: number;
  p99Ms: number;
}

interface WrkJson {
  requests: number;
  duration_us: number;
  connect: number;
  read: number;
  write: number;
  status: number;
  timeout: number;
  p50_us: number;
  p99_us: number;
}

/** wrk, one thread (the other core serves), `connections` kept-alive connections, for `seconds`. */
export async function runWrk(url: string, connections: number, seconds: number): Promise<WrkResult> {
  const res = await runCommand(
    'wrk',
    ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '10s', '-s', WRK_SCRIPT, url],
    { timeoutMs: (seconds + 30) * 1000 },
  );
  const line = res.stdout.split('\n').find((l) => l.startsWith('BENCHJSON '));
  if (res.code !== 0 || line === undefined) throw new Error(`wrk ${url} failed (${res.code}): ${res.stdout}${res.stderr}`);
  const j = JSON.parse(line.slice('BENCHJSON '.length)) as WrkJson;
  return {
    requestsPerSecond: j.requests / (j.duration_us / 1e6),
    requests: j.requests,
    errors: j.connect + j.read + j.write + j.timeout,
    non2xx: j.status,
    p50Ms: j.p50_us / 1000,
    p99Ms: j.p99_us / 1000,
  };
}

export interface CurlResult {
  status: number;
  bytes: number;
  ttfbSeconds: number;
  totalSeconds: number;
}

export interface CurlBatch {
  results: CurlResult[];
  /** From starting the first client to the last one finishing, as seen by the runner. */
  wallSeconds: number;
}

/** `clients` concurrent curl processes, each GETting `url` once into /dev/null. */
export async function runCurls(url: string, clients: number, headers: Record<string, string> = {}): Promise<CurlBatch> {
  const args = ['-sS', '-o', '/dev/null', '--max-time', '300', '-w', '%{http_code} %{size_download} %{time_starttransfer} %{time_total}'];
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}: ${v}`);
  args.push(url);
  const start = performance.now();
  const outs = await Promise.all(Array.from({ length: clients }, () => runCommand('curl', args, { timeoutMs: 310_000 })));
  const wallSeconds = (performance.now() - start) / 1000;
  const results = outs.map((o) => {
    const [status, bytes, ttfb, total] = o.stdout.trim().split(' ').map(Number);
    if (o.code !== 0) throw new Error(`curl ${url} exited ${o.code}: ${o.stderr}`);
    return { status: status ?? 0, bytes: bytes ?? 0, ttfbSeconds: ttfb ?? NaN, totalSeconds: total ?? NaN };
  });
  return { results, wallSeconds };
}

export interface Fetched {
  status: number;
  digest: string;
  size: number;
  headers: Headers;
  body: Buffer | undefined;
}

/** GETs (or HEADs) and hashes the body as it streams; keeps the body only when asked (manifests). */
export async function fetchHashed(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; keepBody?: boolean } = {},
): Promise<Fetched> {
  const res = await fetch(url, { method: opts.method ?? 'GET', headers: opts.headers ?? {} });
  const hash = createHash('sha256');
  const kept: Buffer[] = [];
  let size = 0;
  if (res.body !== null) {
    for await (const chunk of res.body) {
      const buf = Buffer.from(chunk as Uint8Array);
      hash.update(buf);
      size += buf.length;
      if (opts.keepBody === true) kept.push(buf);
    }
  }
  return {
    status: res.status,
    digest: `sha256:${hash.digest('hex')}`,
    size,
    headers: res.headers,
    body: opts.keepBody === true ? Buffer.concat(kept) : undefined,
  };
}

/** VmRSS and VmHWM of a process, in bytes. */
export async function readMemory(pid: number): Promise<{ rss: number; hwm: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

/** Resets the process's peak RSS (VmHWM) to its current RSS: `5` to clear_refs (Linux ≥ 4.0, same user). */
export async function resetPeakMemory(pid: number): Promise<boolean> {
  try {
    await writeFile(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** Samples RSS every `intervalMs` until stopped; returns the highest sample. */
export function sampleRss(pid: number, intervalMs = 25): { stop(): Promise<number> } {
  let peak = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        peak = Math.max(peak, (await readMemory(pid)).rss);
      } catch {
        // The process may be gone; the caller notices elsewhere.
      }
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return peak;
    },
  };
}

export function median(values: number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

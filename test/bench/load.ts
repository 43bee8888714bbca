// Load generators, each a separate process so the runner's own event loop never throttles a system (the
// upstream's counting proxies run in worker threads of their own): wrk for request rates, curl for blob transfers
// and timings.
// Plus the untimed checks: fetch-and-hash, and memory readings from /proc.

import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Agent, fetch as undiciFetch } from 'undici';
import { runCommand } from '../e2e/support/run-command.ts';

export const MANIFEST_ACCEPT =
  'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json, ' +
  'application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json';

const WRK_SCRIPT = fileURLToPath(new URL('./wrk-report.lua', import.meta.url));

export interface WrkResult {
  requestsPerSecond: number;
  /** wrk: bytes read (headers included) per second, which counts transfers still under way when the run ends. */
  bytesPerSecond?: number;
  requests: number;
  errors: number;
  non2xx: number;
  p50Ms: number;
  p99Ms: number;
}

interface WrkJson {
  requests: number;
  duration_us: number;
  bytes: number;
  connect: number;
  read: number;
  write: number;
  status: number;
  timeout: number;
  p50_us: number;
  p99_us: number;
}

/**
 * wrk, one thread (the other core serves), `connections` kept-alive connections, for `seconds`. With
 * `close`, every request says `Connection: close`: the server answers and closes, and wrk opens a new
 * connection (and over TLS a new handshake) for the next request, as dockerd's registry client does.
 */
export async function runWrk(url: string, connections: number, seconds: number, opts: { close?: boolean } = {}): Promise<WrkResult> {
  const res = await runCommand(
    'wrk',
    ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '10s', ...(opts.close ? ['-H', 'Connection: close'] : []), '-s', WRK_SCRIPT, url],
    { timeoutMs: (seconds + 30) * 1000 },
  );
  const line = res.stdout.split('\n').find((l) => l.startsWith('BENCHJSON '));
  if (res.code !== 0 || line === undefined) throw new Error(`wrk ${url} failed (${res.code}): ${res.stdout}${res.stderr}`);
  const j = JSON.parse(line.slice('BENCHJSON '.length)) as WrkJson;
  return {
    requestsPerSecond: j.requests / (j.duration_us / 1e6),
    bytesPerSecond: j.bytes / (j.duration_us / 1e6),
    requests: j.requests,
    errors: j.connect + j.read + j.write + j.timeout,
    non2xx: j.status,
    p50Ms: j.p50_us / 1000,
    p99Ms: j.p99_us / 1000,
  };
}

export interface WrkSpreadResult {
  /** Sum of the wrk processes' rates: the aggregate the mirror (or fleet) served. */
  requestsPerSecond: number;
  requests: number;
  errors: number;
  non2xx: number;
  /** Each wrk process's own rate, in the order of `urls`. */
  perProcess: number[];
}

/**
 * One wrk process per URL, run at once, `connections` split between them as evenly as possible (16 over 3:
 * 6 + 5 + 5): a load spread without a balancer in the path. Give the same URL several times to load one server
 * through the same number of wrk processes, so a 1-server and an N-server figure cost the load generator alike.
 */
export async function runWrkSpread(urls: string[], connections: number, seconds: number): Promise<WrkSpreadResult> {
  const split = urls.map((_, i) => Math.floor(connections / urls.length) + (i < connections % urls.length ? 1 : 0));
  const results = await Promise.all(urls.map((url, i) => runWrk(url, split[i] as number, seconds)));
  const sum = (f: (r: WrkResult) => number): number => results.reduce((a, r) => a + f(r), 0);
  return {
    requestsPerSecond: sum((r) => r.requestsPerSecond),
    requests: sum((r) => r.requests),
    errors: sum((r) => r.errors),
    non2xx: sum((r) => r.non2xx),
    perProcess: results.map((r) => r.requestsPerSecond),
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

/**
 * `clients` concurrent curl processes, each GETting `url` once into /dev/null. `url` may be a list: client i
 * GETs `url[i % url.length]` (clients spread over replicas).
 */
export async function runCurls(
  url: string | string[],
  clients: number,
  headers: Record<string, string> = {},
  options: { follow?: boolean } = {},
): Promise<CurlBatch> {
  const urls = typeof url === 'string' ? [url] : url;
  const args = ['-sS', '-o', '/dev/null', '--max-time', '300', '-w', '%{http_code} %{size_download} %{time_starttransfer} %{time_total}'];
  // Following a 307 to a presigned URL, as docker and containerd do (storage.s3.redirect).
  if (options.follow) args.push('-L');
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}: ${v}`);
  const start = performance.now();
  const outs = await Promise.all(
    Array.from({ length: clients }, (_, i) => runCommand('curl', [...args, urls[i % urls.length] as string], { timeoutMs: 310_000 })),
  );
  const wallSeconds = (performance.now() - start) / 1000;
  const results = outs.map((o) => {
    const [status, bytes, ttfb, total] = o.stdout.trim().split(' ').map(Number);
    if (o.code !== 0) throw new Error(`curl ${urls.join(' | ')} exited ${o.code}: ${o.stderr}`);
    return { status: status ?? 0, bytes: bytes ?? 0, ttfbSeconds: ttfb ?? NaN, totalSeconds: total ?? NaN };
  });
  return { results, wallSeconds };
}

export interface CurlRateResult {
  requestsPerSecond: number;
  requests: number;
  /** Answers that were not a 200 of `size` bytes (after following redirects). */
  wrong: number;
}

/**
 * Request rate where wrk cannot go (it follows no redirect): `connections` curl processes at once, each
 * GETting `url` `perConnection` times over kept-alive connections (`-L`: to the presigned URL and back
 * for the next one). Counts whole fetches per second; every answer's status and size is checked.
 */
export async function runCurlRate(
  url: string,
  connections: number,
  perConnection: number,
  size: number,
  options: { follow?: boolean; headers?: Record<string, string>; insecure?: boolean } = {},
): Promise<CurlRateResult> {
  const args = ['-sS', '--max-time', '120', '-w', '%{http_code} %{size_download}\n', ...(options.follow ? ['-L'] : []), ...(options.insecure ? ['-k'] : [])];
  // HTTP/1.1 as dockerd's registry client speaks it; over TLS curl would otherwise take HTTP/2 where offered
  // (distribution offers it), multiplex everything on one connection and drop a Connection: close header.
  if (url.startsWith('https:')) args.push('--http1.1');
  for (const [k, v] of Object.entries(options.headers ?? {})) args.push('-H', `${k}: ${v}`);
  for (let i = 0; i < perConnection; i++) args.push('-o', '/dev/null', url);
  const start = performance.now();
  const outs = await Promise.all(Array.from({ length: connections }, () => runCommand('curl', args, { timeoutMs: 130_000 })));
  const seconds = (performance.now() - start) / 1000;
  let requests = 0;
  let wrong = 0;
  for (const out of outs) {
    if (out.code !== 0) throw new Error(`curl ${url} exited ${out.code}: ${out.stderr}`);
    for (const line of out.stdout.trim().split('\n')) {
      const [status, bytes] = line.split(' ').map(Number);
      requests += 1;
      if (status !== 200 || bytes !== size) wrong += 1;
    }
  }
  return { requestsPerSecond: requests / seconds, requests, wrong };
}

let agent: Agent | undefined;
function insecureAgent(): Agent {
  agent ??= new Agent({ connect: { rejectUnauthorized: false } });
  return agent;
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
  const init = { method: opts.method ?? 'GET', headers: opts.headers ?? {} };
  // The bench's HTTPS endpoints have a self-signed certificate made for the run.
  const res = url.startsWith('https:') ? await undiciFetch(url, { ...init, dispatcher: insecureAgent() }) : await fetch(url, init);
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

/** CPU time (user + system) a process has used so far, in seconds, from /proc/PID/stat (clock ticks of 1/100 s). */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may itself hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
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

/**
 * HEAD rates by ApacheBench: wrk 4.1 waits for the body a HEAD answer's Content-Length announces and never
 * completes one. ab sends HTTP/1.0 (`-k`: with `Connection: keep-alive`; without it every request is a new
 * connection, as with `Connection: close`); its failures (connect, receive, length, exceptions) and non-2xx
 * answers are counted.
 */
export async function runAbHead(url: string, connections: number, seconds: number, opts: { close?: boolean; accept?: string } = {}): Promise<WrkResult> {
  const args = ['-i', '-r', '-q', `-c${connections}`, `-t${seconds}`, '-n', '10000000', '-H', `Accept: ${opts.accept ?? MANIFEST_ACCEPT}`, ...(opts.close ? [] : ['-k']), url];
  const res = await runCommand('ab', args, { timeoutMs: (seconds + 30) * 1000 });
  const num = (label: string): number => Number(new RegExp(`^${label}:\\s+([\\d.]+)`, 'm').exec(res.stdout)?.[1] ?? NaN);
  const requests = num('Complete requests');
  const rps = num('Requests per second');
  if (res.code !== 0 || !Number.isFinite(rps)) throw new Error(`ab ${url} failed (${res.code}): ${res.stdout}${res.stderr}`);
  const nonOk = Number(/^Non-2xx responses:\s+(\d+)/m.exec(res.stdout)?.[1] ?? 0);
  const pct = (p: number): number => Number(new RegExp(`^\\s+${p}%\\s+(\\d+)`, 'm').exec(res.stdout)?.[1] ?? NaN);
  return { requestsPerSecond: rps, requests, errors: num('Failed requests'), non2xx: nonOk, p50Ms: pct(50), p99Ms: pct(99) };
}

/** The process and all its descendants (cluster workers, nginx workers), from /proc/PID/task/TID/children. */
export async function processTree(pid: number): Promise<number[]> {
  const out: number[] = [];
  const visit = async (p: number): Promise<void> => {
    out.push(p);
    const tasks = await readdir(`/proc/${p}/task`).catch(() => [] as string[]);
    for (const tid of tasks) {
      const children = await readFile(`/proc/${p}/task/${tid}/children`, 'utf8').catch(() => '');
      for (const c of children.trim().split(/\s+/)) if (c !== '') await visit(Number(c));
    }
  };
  await visit(pid);
  return out;
}

/** CPU seconds used so far by all of `pids` (a process that has gone counts 0). */
export async function cpuSecondsOf(pids: number[]): Promise<number> {
  const each = await Promise.all(pids.map((p) => cpuSeconds(p).catch(() => 0)));
  return each.reduce((a, b) => a + b, 0);
}

/**
 * One curl GET of `url` (a blob not yet cached), with the CPU seconds all of `pids` used from the request until
 * 300 ms after its last byte: work a system does after the client's last byte (commit, bookkeeping) belongs to
 * the fill too.
 */
export async function coldFetch(url: string, pids: number[]): Promise<{ batch: CurlBatch; cpuSeconds: number }> {
  const before = await cpuSecondsOf(pids);
  const batch = await runCurls(url, 1);
  await new Promise((r) => setTimeout(r, 300));
  return { batch, cpuSeconds: (await cpuSecondsOf(pids)) - before };
}

/** TCP connections this host has opened (Tcp ActiveOpens in /proc/net/snmp): proves a client reconnected. */
export async function tcpActiveOpens(): Promise<number> {
  const lines = (await readFile('/proc/net/snmp', 'utf8')).split('\n').filter((l) => l.startsWith('Tcp:'));
  const names = (lines[0] ?? '').split(' ');
  const values = (lines[1] ?? '').split(' ');
  return Number(values[names.indexOf('ActiveOpens')]);
}

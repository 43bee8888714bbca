import type { IncomingHttpHeaders } from 'node:http';
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';

export type RequestKind = 'ping' | 'manifest' | 'blob' | 'tags' | 'referrers' | 'other';

export interface RecordedRequest {
  method: string;
  /** Path and query as received, e.g. /v2/library/alpine/manifests/latest?ns=docker.io */
  url: string;
  /** Path without the query. */
  path: string;
  kind: RequestKind;
  /** Node joins repeated headers (Accept) with ", "; rawHeaders keeps each line as sent. */
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  /** Upstream status once known; undefined while in flight or when the upstream could not be reached. */
  status?: number;
  /** Response body bytes forwarded to the client. */
  bytes: number;
  at: number;
}

export interface CountFilter {
  method?: string;
  kind?: RequestKind;
  /** Only requests whose path contains this. */
  pathIncludes?: string;
  /** Only requests answered with this status, e.g. 200 to leave out the 401s of a token dance. */
  status?: number;
}

export interface CountingProxy {
  readonly url: string;
  readonly port: number;
  requests(): RecordedRequest[];
  count(filter?: CountFilter): number;
  resetCounts(): void;
  pause(): Promise<void>;
  resume(): Promise<void>;
  isPaused(): boolean;
  close(): Promise<void>;
}

/** Classifies by the Registry V2 path shape; a mirror path prefix before /v2/ does not matter. */
export function classify(path: string): RequestKind {
  if (/(^|\/)v2\/?$/.test(path)) return 'ping';
  if (/\/v2\/.+\/manifests\/[^/]+$/.test(path)) return 'manifest';
  if (/\/v2\/.+\/blobs\//.test(path)) return 'blob';
  if (/\/v2\/.+\/tags\/list$/.test(path)) return 'tags';
  if (/\/v2\/.+\/referrers\/[^/]+$/.test(path)) return 'referrers';
  return 'other';
}

function matches(r: RecordedRequest, f: CountFilter): boolean {
  return (
    (f.method === undefined || r.method === f.method.toUpperCase()) &&
    (f.kind === undefined || r.kind === f.kind) &&
    (f.pathIncludes === undefined || r.path.includes(f.pathIncludes)) &&
    (f.status === undefined || r.status === f.status)
  );
}

/** What the worker (counting-proxy-worker.js) posts. */
type WorkerMessage =
  | { type: 'listening'; port: number; error?: string }
  | { type: 'request'; id: number; method: string; url: string; headers: IncomingHttpHeaders; rawHeaders: string[]; at: number; slab: SharedArrayBuffer; slabBase: number }
  | { type: 'status'; id: number; status: number | undefined }
  | { type: 'done'; seq: number; error?: string };

const WORKER = new URL('./counting-proxy-worker.js', import.meta.url);

/**
 * An HTTP proxy in front of the upstream registry that records every request, so tests can assert how many
 * requests the mirror really sent upstream (a broken mirror that clients silently bypass would otherwise look
 * fine). Bodies stream both ways; the Host header is passed on so the registry's absolute Location URLs point
 * back at the proxy.
 *
 * The proxying runs in a worker thread (counting-proxy-worker.js) with its own event loop and heap. In the
 * caller's thread a 256 MiB blob took 0.8–1.3 s and 0.6–1.1 CPU-s where the registry alone sends it in 0.2–0.3 s
 * (2-core machine under load): 4096 reads and writes of 64 KiB, each read a fresh buffer whose external memory
 * forces a major GC of the caller's whole heap every ~60 ms. In a worker: ~0.5 s and 0.3–0.4 CPU-s. The record
 * is still synchronous to read: the worker posts each request as it arrives and each status before forwarding
 * the answer, and count(), requests() and resetCounts() first take every message already posted
 * (receiveMessageOnPort); bytes are counters in shared memory, read live.
 */
export async function startCountingProxy(target: string): Promise<CountingProxy> {
  const { port1: channel, port2 } = new MessageChannel();
  const worker = new Worker(WORKER, { workerData: { target, port: port2 }, transferList: [port2], execArgv: [] });
  let log: RecordedRequest[] = [];
  const inFlight = new Map<number, RecordedRequest>();
  const pending = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  let seq = 0;
  let paused = false;
  let closed = false;
  let port = 0;
  let started: { resolve: () => void; reject: (e: Error) => void } | undefined;
  let workerError: Error | undefined;

  const apply = (m: WorkerMessage): void => {
    if (m.type === 'request') {
      const counters = new Float64Array(m.slab);
      const index = m.id - m.slabBase;
      const path = m.url.split('?')[0] ?? m.url;
      const record = {
        method: m.method,
        url: m.url,
        path,
        kind: classify(path),
        headers: m.headers,
        rawHeaders: m.rawHeaders,
        bytes: 0,
        at: m.at,
      } as RecordedRequest;
      // Live, as when the proxy ran in this thread: the worker adds each chunk before forwarding it.
      Object.defineProperty(record, 'bytes', { enumerable: true, get: () => counters[index] ?? 0 });
      log.push(record);
      inFlight.set(m.id, record);
    } else if (m.type === 'status') {
      const record = inFlight.get(m.id);
      if (record !== undefined && m.status !== undefined) record.status = m.status;
      inFlight.delete(m.id);
    } else if (m.type === 'listening') {
      if (m.error !== undefined) started?.reject(new Error(`counting proxy: ${m.error}`));
      else {
        port = m.port;
        started?.resolve();
      }
      started = undefined;
    } else {
      const p = pending.get(m.seq);
      pending.delete(m.seq);
      if (m.error !== undefined) p?.reject(new Error(`counting proxy: ${m.error}`));
      else p?.resolve();
    }
  };
  /** Everything the worker has posted so far, before a synchronous read of the record. */
  const drain = (): void => {
    for (let m = receiveMessageOnPort(channel); m !== undefined; m = receiveMessageOnPort(channel)) apply(m.message as WorkerMessage);
  };
  channel.on('message', (m: WorkerMessage) => apply(m));
  worker.on('error', (e) => {
    workerError = e;
    started?.reject(e);
    for (const p of pending.values()) p.reject(e);
    pending.clear();
  });
  worker.on('exit', (code) => {
    if (closed) return;
    const e = workerError ?? new Error(`counting proxy: the worker exited (${code})`);
    started?.reject(e);
    for (const p of pending.values()) p.reject(e);
    pending.clear();
  });

  const ask = (type: 'pause' | 'resume' | 'close'): Promise<void> => {
    if (workerError !== undefined) return Promise.reject(workerError);
    const n = ++seq;
    return new Promise<void>((resolve, reject) => {
      pending.set(n, { resolve, reject });
      channel.postMessage({ type, seq: n });
    });
  };

  await new Promise<void>((resolve, reject) => {
    started = { resolve, reject };
  }).catch(async (e: unknown) => {
    await worker.terminate();
    channel.close();
    throw e;
  });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests: () => {
      drain();
      return [...log];
    },
    count: (filter = {}) => {
      drain();
      return log.filter((r) => matches(r, filter)).length;
    },
    resetCounts: () => {
      drain();
      log = [];
    },
    async pause() {
      if (paused) return;
      paused = true;
      await ask('pause');
    },
    async resume() {
      if (!paused) return;
      await ask('resume');
      paused = false;
    },
    isPaused: () => paused,
    async close() {
      if (closed) return;
      closed = true;
      await ask('close').catch(() => undefined);
      drain();
      channel.close();
      await worker.terminate();
    },
  };
}

import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { classify, type RequestKind } from './counting-proxy.ts';

/** What to do to a matching request's answer. Byte offsets count response body bytes. */
export type FaultAction =
  /** Forward N body bytes, then destroy the connection (a cut transfer). */
  | { kind: 'cut'; afterBytes: number }
  /** Forward everything with the byte at this offset inverted (content that does not match its digest). */
  | { kind: 'flip'; atByte: number }
  /** Forward the body in `chunk`-byte pieces, `delayMs` apart (a slow upstream). */
  | { kind: 'trickle'; chunk: number; delayMs: number }
  /** Forward N body bytes, then nothing more while keeping the connection open (a stalled upstream). */
  | { kind: 'stall'; afterBytes: number }
  /** Never answer at all: no status line, no headers. */
  | { kind: 'stall-headers' }
  /** Answer with this status and headers instead of asking the registry (429 with Retry-After, 5xx). */
  | { kind: 'status'; status: number; headers?: Record<string, string> }
  /** Reset the connection as soon as the request arrives. */
  | { kind: 'reset' };

const BODY_FAULTS = new Set<FaultAction['kind']>(['cut', 'flip', 'trickle', 'stall']);

export interface FaultRule {
  method?: string;
  kind?: RequestKind;
  pathIncludes?: string;
  action: FaultAction;
  /** Applies to this many matching requests, then is used up; absent = every one. */
  times?: number;
}

export interface FaultRecord {
  method: string;
  path: string;
  kind: RequestKind;
  /** The action applied, if a rule matched. */
  fault: FaultAction['kind'] | undefined;
  status?: number;
  /** Body bytes sent on to the mirror. */
  bytes: number;
}

export interface FaultProxy {
  readonly url: string;
  readonly port: number;
  /** Adds a rule; the first matching rule with uses left applies. */
  addRule(rule: FaultRule): void;
  clearRules(): void;
  /** While set, every new connection is reset before any HTTP is spoken (an upstream that is down). */
  refuseConnections(refuse: boolean): void;
  requests(): FaultRecord[];
  count(filter?: { method?: string; kind?: RequestKind; fault?: FaultAction['kind'] }): number;
  resetCounts(): void;
  close(): Promise<void>;
}

/**
 * An HTTP proxy on 127.0.0.1 in front of a real registry that injects faults per rule: cut transfers,
 * flipped bytes, slow or stalled bodies, error statuses, reset connections, refused connections. It
 * counts every request it receives, faulted or not, so tests can assert what the mirror asked for.
 */
export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const targetUrl = new URL(target);
  let rules: Array<FaultRule & { used: number }> = [];
  let log: FaultRecord[] = [];
  let refusing = false;
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();

  /**
   * Faults on the answer itself (status, reset, no answer) are picked when the request arrives; faults on
   * the body only once the registry answers 200/206, so a token dance's 401 does not use them up.
   */
  const pick = (record: FaultRecord, phase: 'request' | 'body'): FaultAction | undefined => {
    for (const rule of rules) {
      if (rule.times !== undefined && rule.used >= rule.times) continue;
      if (BODY_FAULTS.has(rule.action.kind) !== (phase === 'body')) continue;
      if (rule.method !== undefined && rule.method !== record.method) continue;
      if (rule.kind !== undefined && rule.kind !== record.kind) continue;
      if (rule.pathIncludes !== undefined && !record.path.includes(rule.pathIncludes)) continue;
      rule.used += 1;
      return rule.action;
    }
    return undefined;
  };

  const later = (ms: number, fn: () => void): void => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
  };

  /** Sends the registry's body on, shaped by the fault. */
  const relayBody = (upRes: IncomingMessage, res: ServerResponse, record: FaultRecord, action: FaultAction | undefined): void => {
    let offset = 0;
    const queue: Buffer[] = [];
    let trickling = false;
    let ended = false;
    const pump = (): void => {
      if (action?.kind !== 'trickle' || trickling) return;
      const next = queue.shift();
      if (next === undefined) {
        if (ended) res.end();
        return;
      }
      const piece = next.subarray(0, action.chunk);
      if (next.length > action.chunk) queue.unshift(next.subarray(action.chunk));
      trickling = true;
      res.write(piece);
      record.bytes += piece.length;
      later(action.delayMs, () => {
        trickling = false;
        if (!res.destroyed) pump();
      });
    };
    upRes.on('data', (chunk: Buffer) => {
      if (res.destroyed) return;
      const start = offset;
      offset += chunk.length;
      switch (action?.kind) {
        case 'cut':
        case 'stall': {
          const allowed = Math.max(0, Math.min(chunk.length, action.afterBytes - start));
          if (allowed > 0) {
            res.write(chunk.subarray(0, allowed));
            record.bytes += allowed;
          }
          if (offset >= action.afterBytes) {
            upRes.pause();
            // A cut drops the TCP connection mid-body; a stall just stops sending and keeps it open.
            if (action.kind === 'cut') res.socket?.destroy();
          }
          return;
        }
        case 'flip': {
          const copy = Buffer.from(chunk);
          const at = action.atByte - start;
          if (at >= 0 && at < copy.length) copy[at] = (copy[at] ?? 0) ^ 0xff;
          res.write(copy);
          record.bytes += copy.length;
          return;
        }
        case 'trickle':
          queue.push(chunk);
          pump();
          return;
        default:
          res.write(chunk);
          record.bytes += chunk.length;
      }
    });
    upRes.on('end', () => {
      ended = true;
      if (action?.kind === 'cut' || action?.kind === 'stall') return;
      if (action?.kind === 'trickle') pump();
      else res.end();
    });
    upRes.on('error', () => res.destroy());
  };

  const server: Server = createServer((req, res) => {
    const url = req.url ?? '/';
    const path = url.split('?')[0] ?? url;
    const record: FaultRecord = { method: req.method ?? 'GET', path, kind: classify(path), fault: undefined, bytes: 0 };
    log.push(record);
    const action = pick(record, 'request');
    record.fault = action?.kind;
    if (action?.kind === 'reset') {
      req.socket.resetAndDestroy();
      return;
    }
    if (action?.kind === 'stall-headers') return;
    if (action?.kind === 'status') {
      record.status = action.status;
      res.writeHead(action.status, { 'content-type': 'application/json', ...action.headers });
      res.end(JSON.stringify({ errors: [{ code: action.status === 429 ? 'TOOMANYREQUESTS' : 'UNAVAILABLE', message: 'injected fault' }] }));
      return;
    }
    const upstream = httpRequest(
      { host: targetUrl.hostname, port: targetUrl.port, method: req.method, path: url, headers: req.headers },
      (upRes) => {
        record.status = upRes.statusCode;
        const bodyFault = upRes.statusCode === 200 || upRes.statusCode === 206 ? pick(record, 'body') : undefined;
        record.fault = bodyFault?.kind;
        res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, upRes.rawHeaders);
        relayBody(upRes, res, record, bodyFault);
      },
    );
    upstream.on('error', () => res.destroy());
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  server.on('connection', (socket: Socket) => {
    if (refusing) {
      socket.resetAndDestroy();
      return;
    }
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = address !== null && typeof address !== 'string' ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    addRule: (rule) => rules.push({ ...rule, used: 0 }),
    clearRules: () => {
      rules = [];
    },
    refuseConnections(refuse) {
      refusing = refuse;
      // Connections already open (kept alive by the mirror) go too: the upstream is down, not half up.
      if (refuse) for (const socket of sockets) socket.destroy();
    },
    requests: () => [...log],
    count: (filter = {}) =>
      log.filter(
        (r) =>
          (filter.method === undefined || r.method === filter.method) &&
          (filter.kind === undefined || r.kind === filter.kind) &&
          (filter.fault === undefined || r.fault === filter.fault),
      ).length,
    resetCounts: () => {
      log = [];
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer);
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

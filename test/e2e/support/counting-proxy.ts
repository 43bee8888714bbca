import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { pipeline } from 'node:stream/promises';

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

/**
 * An HTTP proxy in front of the upstream registry that records every request, so tests can assert how many
 * requests the mirror really sent upstream (a broken mirror that clients silently bypass would otherwise look
 * fine). Bodies stream both ways; the Host header is passed on so the registry's absolute Location URLs point
 * back at the proxy.
 */
export async function startCountingProxy(target: string): Promise<CountingProxy> {
  const targetUrl = new URL(target);
  let log: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  let paused = false;
  let port = 0;

  const server: Server = createServer((req, res) => {
    const url = req.url ?? '/';
    const path = url.split('?')[0] ?? url;
    const record: RecordedRequest = {
      method: req.method ?? 'GET',
      url,
      path,
      kind: classify(path),
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      bytes: 0,
      at: Date.now(),
    };
    log.push(record);
    const upstream = httpRequest(
      {
        host: targetUrl.hostname,
        port: targetUrl.port,
        method: req.method,
        path: url,
        headers: req.headers,
      },
      (upRes) => {
        record.status = upRes.statusCode;
        res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, upRes.rawHeaders);
        upRes.on('data', (chunk: Buffer) => {
          record.bytes += chunk.length;
        });
        pipeline(upRes, res).catch(() => res.destroy());
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end('upstream registry unreachable');
      } else {
        res.destroy();
      }
    });
    pipeline(req, upstream).catch(() => upstream.destroy());
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  function listen(p: number): Promise<void> {
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(p, '127.0.0.1', () => {
        server.off('error', reject);
        const addr = server.address();
        if (addr !== null && typeof addr !== 'string') port = addr.port;
        resolve();
      });
    });
  }

  function closeListener(): Promise<void> {
    return new Promise((resolve) => {
      if (!server.listening) {
        resolve();
        return;
      }
      server.close(() => resolve());
      // Kept-alive and in-flight connections too: the mirror must see the upstream as down, not half up.
      for (const s of sockets) s.destroy();
    });
  }

  await listen(0);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests: () => [...log],
    count: (filter = {}) => log.filter((r) => matches(r, filter)).length,
    resetCounts: () => {
      log = [];
    },
    async pause() {
      if (paused) return;
      paused = true;
      await closeListener();
    },
    async resume() {
      if (!paused) return;
      // Same port again: the mirror's configured upstream URL must keep working. libuv sets SO_REUSEADDR,
      // so TIME_WAIT sockets from before the pause do not block the re-bind.
      await listen(port);
      paused = false;
    },
    isPaused: () => paused,
    close: closeListener,
  };
}

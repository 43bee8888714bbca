import { createServer, type Socket } from 'node:net';

export interface RefusingProxy {
  /** http://127.0.0.1:PORT, for HTTP_PROXY / HTTPS_PROXY. */
  readonly url: string;
  /** How many connections were attempted: > 0 means a client tried to leave loopback (a mirror fallback). */
  connections(): number;
  close(): Promise<void>;
}

/** Environment that sends every non-loopback request of a client to `proxy`, and loopback requests direct. */
export function proxyEnv(proxy: RefusingProxy): NodeJS.ProcessEnv {
  const noProxy = '127.0.0.1,localhost,::1';
  return {
    HTTP_PROXY: proxy.url,
    HTTPS_PROXY: proxy.url,
    http_proxy: proxy.url,
    https_proxy: proxy.url,
    NO_PROXY: noProxy,
    no_proxy: noProxy,
  };
}

/**
 * A proxy port that accepts and immediately resets every connection. Client daemons use it as their proxy,
 * so when a mirror fails and they fall back to the real Docker Hub, the fallback is a fast, visible error
 * (and a counted connection) instead of traffic leaving the machine or a slow DNS time-out.
 */
export function startRefusingProxy(): Promise<RefusingProxy> {
  let count = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    count += 1;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.resetAndDestroy();
    sockets.delete(socket);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      if (addr === null || typeof addr === 'string') {
        reject(new Error('no address'));
        return;
      }
      resolve({
        url: `http://127.0.0.1:${addr.port}`,
        connections: () => count,
        close: () =>
          new Promise<void>((res) => {
            for (const s of sockets) s.destroy();
            server.close(() => res());
          }),
      });
    });
  });
}

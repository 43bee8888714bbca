// A real nginx (Debian's nginx-light) in front of a mirror, configured from the shipped
// config/nginx-offload.conf — so the tests and the benchmark check the file users deploy, with only
// its addresses and the storage path rewritten for this machine. Runs in the foreground under its own
// prefix in a temp dir, listening on loopback only.

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../e2e/support/free-port.ts';
import { spawnTracked } from '../e2e/support/tracked-process.ts';
import { waitFor } from '../e2e/support/wait-for.ts';

const SHIPPED = fileURLToPath(new URL('../../config/nginx-offload.conf', import.meta.url));

export interface NginxFront {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  readonly pid: number;
  /** nginx's error log so far. */
  log(): Promise<string>;
  stop(): Promise<void>;
}

export interface NginxFrontOptions {
  /** The mirror nginx proxies to, host:port. */
  mirror: string;
  /** The mirror's storage.path, which nginx serves offloaded blobs from. */
  storagePath: string;
  /** Where nginx keeps its config, pid, logs and temp files. */
  dir: string;
  /** Extra directives for the shipped server block (e.g. an access log while debugging). */
  serverExtra?: string;
  /** Worker processes (default 1: the other core serves the mirror). */
  workers?: number;
}

/** The shipped config with this machine's addresses: every rewrite is checked, so a changed file fails loudly. */
export async function renderOffloadConfig(mirror: string, listen: string, storagePath: string, serverExtra = ''): Promise<string> {
  const shipped = await readFile(SHIPPED, 'utf8');
  const rewrites: Array<[string, string]> = [
    ['server pullthrough:5000;', `server ${mirror};`],
    ['listen 5000;', `listen ${listen};${serverExtra ? `\n  ${serverExtra}` : ''}`],
    ['alias /var/lib/pullthrough/blobs/;', `alias ${join(storagePath, 'blobs')}/;`],
  ];
  let text = shipped;
  for (const [from, to] of rewrites) {
    if (!text.includes(from)) throw new Error(`config/nginx-offload.conf no longer contains "${from}"`);
    text = text.replace(from, to);
  }
  return text;
}

export async function startNginxFront(opts: NginxFrontOptions): Promise<NginxFront> {
  await mkdir(join(opts.dir, 'logs'), { recursive: true });
  const port = await freePort();
  const server = await renderOffloadConfig(opts.mirror, `127.0.0.1:${port}`, opts.storagePath, opts.serverExtra);
  const main = [
    // The tests run as root and keep files in 0700 temp dirs: the workers must be able to read them.
    'user root;',
    `worker_processes ${opts.workers ?? 1};`,
    `pid ${join(opts.dir, 'nginx.pid')};`,
    `error_log ${join(opts.dir, 'logs', 'error.log')} warn;`,
    'events { worker_connections 1024; }',
    'http {',
    '  access_log off;',
    `  client_body_temp_path ${join(opts.dir, 'client_body')};`,
    `  proxy_temp_path ${join(opts.dir, 'proxy')};`,
    `  fastcgi_temp_path ${join(opts.dir, 'fastcgi')};`,
    `  uwsgi_temp_path ${join(opts.dir, 'uwsgi')};`,
    `  scgi_temp_path ${join(opts.dir, 'scgi')};`,
    `  include ${join(opts.dir, 'pullthrough.conf')};`,
    '}',
    '',
  ].join('\n');
  await writeFile(join(opts.dir, 'pullthrough.conf'), server);
  await writeFile(join(opts.dir, 'nginx.conf'), main);
  const proc = await spawnTracked('nginx', ['-p', opts.dir, '-c', join(opts.dir, 'nginx.conf'), '-g', 'daemon off;'], {
    logFile: join(opts.dir, 'nginx.out'),
  });
  const url = `http://127.0.0.1:${port}`;
  const log = (): Promise<string> => readFile(join(opts.dir, 'logs', 'error.log'), 'utf8').catch(() => '');
  try {
    await waitFor(
      'nginx to listen',
      async () => {
        if (!proc.isRunning()) throw new Error('nginx exited');
        const res = await fetch(`${url}/v2/`).catch(() => undefined);
        await res?.arrayBuffer();
        return res ? true : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 50 },
    );
  } catch (error) {
    await proc.stop(2_000);
    throw new Error(`nginx did not start (${(error as Error).message}):\n${await log()}\n${await readFile(join(opts.dir, 'nginx.out'), 'utf8').catch(() => '')}`);
  }
  return { url, pid: proc.pid, log, stop: () => proc.stop(5_000) };
}

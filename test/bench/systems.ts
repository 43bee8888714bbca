// The systems under test, each a separate process on a free loopback port with its storage in a temp dir:
// CNCF distribution 2.8 in proxy mode, and pullthrough from its built code (dist/server.js).

import { randomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../e2e/support/free-port.ts';
import { spawnTracked, type TrackedProcess } from '../e2e/support/tracked-process.ts';
import { waitFor } from '../e2e/support/wait-for.ts';
import { startNginxFront } from '../support/nginx-front.ts';
import { fetchHashed, processTree } from './load.ts';

export interface SystemUnderTest {
  /** Short id used in the JSON: distribution, pullthrough-redis, pullthrough-embedded. */
  readonly id: string;
  readonly label: string;
  /** http://127.0.0.1:PORT */
  readonly url: string;
  /** The serving process, whose memory is measured. */
  readonly pid: number;
  /** Every process serving: `pid` and its descendants (cluster workers, nginx workers), for CPU time. */
  pids(): Promise<number[]>;
  /** URL prefix for the economy row's pulls (pullthrough: an upstream with a short tagTtl). */
  readonly economyPrefix: string;
  log(): Promise<string>;
  stop(): Promise<void>;
}

async function waitForRegistryApi(what: string, url: string, proc: TrackedProcess): Promise<boolean> {
  return waitFor(
    what,
    async () => {
      if (!proc.isRunning()) return false;
      const res = await fetchHashed(`${url}/v2/`).catch(() => undefined);
      return res?.status === 200 && res.headers.get('docker-distribution-api-version') === 'registry/2.0' ? true : undefined;
    },
    { timeoutMs: 20_000, intervalMs: 50 },
  );
}

export interface UpstreamLogin {
  url: string;
  username: string;
  password: string;
}

/**
 * distribution in proxy mode, configured as the registry:2 image ships it (in-memory blob descriptor cache)
 * minus the access log, which pullthrough does not write either at the level it runs at here.
 */
export async function startDistributionProxy(dir: string, upstream: UpstreamLogin, opts: { tls?: TlsFiles; name?: string } = {}): Promise<SystemUnderTest> {
  const storage = join(dir, 'storage');
  await mkdir(storage, { recursive: true });
  const logFile = join(dir, 'distribution.log');
  const port = await freePort();
  const config = [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  cache:',
    '    blobdescriptor: inmemory',
    '  filesystem:',
    `    rootdirectory: ${JSON.stringify(storage)}`,
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    `  secret: ${JSON.stringify(randomUUID())}`,
    ...(opts.tls ? ['  tls:', `    certificate: ${JSON.stringify(opts.tls.cert)}`, `    key: ${JSON.stringify(opts.tls.key)}`] : []),
    'proxy:',
    `  remoteurl: ${JSON.stringify(upstream.url)}`,
    `  username: ${JSON.stringify(upstream.username)}`,
    `  password: ${JSON.stringify(upstream.password)}`,
    '',
  ].join('\n');
  const configPath = join(dir, 'distribution.yml');
  await writeFile(configPath, config);
  const proc = await spawnTracked('docker-registry', ['serve', configPath], { logFile });
  const url = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  if (!(await waitForRegistryApi('distribution proxy to listen', url, proc))) {
    await proc.stop(2_000);
    throw new Error(`distribution did not start:\n${await readFile(logFile, 'utf8').catch(() => '')}`);
  }
  return {
    id: opts.name ?? 'distribution',
    label: opts.name ?? 'distribution 2.8 proxy',
    url,
    pid: proc.pid,
    pids: () => processTree(proc.pid),
    economyPrefix: url,
    log: () => readFile(logFile, 'utf8').catch(() => ''),
    stop: () => proc.stop(10_000),
  };
}

/**
 * The bare relay (bare-relay.js): the cold row's floor, reading `upstreamUrl` with `authorization`; with
 * `keepDir` it also hashes and writes what it relays there (the floor of a mirror that keeps).
 */
export interface BareRelay {
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

export async function startBareRelay(dir: string, upstreamUrl: string, authorization: string, opts: { keepDir?: string } = {}): Promise<BareRelay> {
  const logFile = join(dir, opts.keepDir === undefined ? 'bare-relay.log' : 'bare-keeper.log');
  if (opts.keepDir !== undefined) await mkdir(opts.keepDir, { recursive: true });
  const port = await freePort();
  const script = join(dirname(fileURLToPath(import.meta.url)), 'bare-relay.js');
  const proc = await spawnTracked(process.execPath, [script, String(port), upstreamUrl], {
    logFile,
    env: { ...process.env, BARE_RELAY_AUTHORIZATION: authorization, ...(opts.keepDir !== undefined && { BARE_RELAY_KEEP_DIR: opts.keepDir }) },
  });
  const url = `http://127.0.0.1:${port}`;
  const up = await waitFor(
    'the bare relay to listen',
    async () => (proc.isRunning() ? ((await fetch(`${url}/ready`).catch(() => undefined))?.status === 200 ? true : undefined) : false),
    { timeoutMs: 10_000, intervalMs: 50 },
  );
  if (!up) {
    await proc.stop(2_000);
    throw new Error(`the bare relay did not start:\n${await readFile(logFile, 'utf8').catch(() => '')}`);
  }
  return { url, pid: proc.pid, stop: () => proc.stop(2_000) };
}

export interface PullthroughOptions {
  /** The built entry point, dist/server.js. */
  entry: string;
  redis?: string;
  /** The main upstream (long tagTtl: warm rows stay inside the freshness window). */
  upstream: UpstreamLogin;
  /** The economy row's upstream: same registry through another counting proxy, short tagTtl (none: no `econ`). */
  economyUpstream?: UpstreamLogin;
  economyTagTtl?: string;
  /** The blob store; defaults to `dir`/storage. Replicas share one (with one Redis). */
  storagePath?: string;
  /** Overrides the id and label (replicas: pullthrough-replica-0, …). */
  name?: string;
  /** Blobs in an S3 bucket (issue 10) instead of the store directory, which is then the scratch dir. */
  s3?: BenchS3;
  /** HTTPS with these PEM files (config `tls`). */
  tls?: TlsFiles;
  /** Config `workers` (issue 11): processes serving the one port. */
  workers?: number | 'auto';
  /** serve.offload and trustProxy: kept blobs handed to the nginx in front (startOffload). */
  offload?: boolean;
}

export interface TlsFiles {
  cert: string;
  key: string;
}

export interface BenchS3 {
  endpoint: string;
  bucket: string;
  prefix: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** storage.s3.redirect: kept-blob GETs answered 307 to a presigned URL. */
  redirect?: boolean;
}

export async function startPullthrough(dir: string, opts: PullthroughOptions): Promise<SystemUnderTest> {
  const storage = opts.storagePath ?? join(dir, 'storage');
  await mkdir(storage, { recursive: true });
  const logFile = join(dir, 'pullthrough.log');
  const port = await freePort();
  // JSON is YAML; the keys are those of config/default.yaml.
  const config = {
    listen: `127.0.0.1:${port}`,
    logLevel: 'warn',
    storage: {
      path: storage,
      ...(opts.s3 && {
        s3: {
          endpoint: opts.s3.endpoint,
          bucket: opts.s3.bucket,
          prefix: opts.s3.prefix,
          forcePathStyle: true,
          accessKeyEnv: 'BENCH_S3_ACCESS_KEY',
          secretKeyEnv: 'BENCH_S3_SECRET_KEY',
          redirect: opts.s3.redirect ?? false,
        },
      }),
    },
    ...(opts.redis === undefined ? {} : { metadata: { redis: opts.redis } }),
    ...(opts.tls && { tls: opts.tls }),
    ...(opts.workers !== undefined && { workers: opts.workers }),
    ...(opts.offload && { serve: { offload: true }, trustProxy: true }),
    defaultUpstream: 'hub',
    upstreams: {
      hub: {
        url: opts.upstream.url,
        defaultNamespace: 'library',
        tagTtl: '1h',
        username: opts.upstream.username,
        passwordEnv: 'BENCH_UPSTREAM_PASSWORD',
        // The bench's clients are anonymous; the upstream holds nothing private.
        public: true,
      },
      ...(opts.economyUpstream === undefined
        ? {}
        : {
            econ: {
              url: opts.economyUpstream.url,
              defaultNamespace: 'library',
              tagTtl: opts.economyTagTtl ?? '5s',
              username: opts.economyUpstream.username,
              passwordEnv: 'BENCH_UPSTREAM_PASSWORD',
              // The bench's clients are anonymous; the upstream holds nothing private.
              public: true,
            },
          }),
    },
  };
  const configPath = join(dir, 'pullthrough.yaml');
  await writeFile(configPath, JSON.stringify(config, null, 2));
  const proc = await spawnTracked(process.execPath, [opts.entry, '--config', configPath], {
    logFile,
    env: {
      ...process.env,
      BENCH_UPSTREAM_PASSWORD: opts.upstream.password,
      NODE_ENV: 'production',
      ...(opts.s3 && { BENCH_S3_ACCESS_KEY: opts.s3.accessKeyId, BENCH_S3_SECRET_KEY: opts.s3.secretAccessKey }),
    },
  });
  const url = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  if (!(await waitForRegistryApi('pullthrough to listen', url, proc))) {
    await proc.stop(2_000);
    throw new Error(`pullthrough did not start:\n${await readFile(logFile, 'utf8').catch(() => '')}`);
  }
  const kind = opts.redis === undefined ? 'embedded' : 'redis';
  return {
    id: opts.name ?? `pullthrough-${kind}`,
    label: opts.name ?? `pullthrough (${kind})`,
    url,
    pid: proc.pid,
    pids: () => processTree(proc.pid),
    economyPrefix: `${url}/econ`,
    log: () => readFile(logFile, 'utf8').catch(() => ''),
    stop: () => proc.stop(10_000),
  };
}

/**
 * `count` pullthrough processes acting as one mirror (issue 6): one Redis, one shared store directory, each its own
 * port, config and log under `dir`/replica-N. Started one after another; all stopped if one fails to start.
 */
export async function startReplicas(dir: string, count: number, opts: PullthroughOptions & { redis: string }): Promise<SystemUnderTest[]> {
  const storagePath = join(dir, 'shared-storage');
  const started: SystemUnderTest[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const own = join(dir, `replica-${i}`);
      await mkdir(own, { recursive: true });
      started.push(await startPullthrough(own, { ...opts, storagePath, name: `pullthrough-replica-${i}` }));
    }
  } catch (e) {
    await Promise.all(started.map((r) => r.stop()));
    throw e;
  }
  return started;
}

/** A system reached over plain HTTP and over HTTPS (the same processes, or a second instance). */
export interface ServedBoth {
  plain: SystemUnderTest;
  tls: SystemUnderTest;
  stop(): Promise<void>;
}

function tlsDirectives(tls: TlsFiles, port: number, cache: string): string {
  // What a TLS deployment of nginx sets: a shared session cache (tickets are on by default), so a client
  // reconnecting resumes its session on any worker.
  return [
    `listen 127.0.0.1:${port} ssl;`,
    `ssl_certificate ${tls.cert};`,
    `ssl_certificate_key ${tls.key};`,
    `ssl_session_cache shared:${cache}:10m;`,
    'ssl_session_timeout 1h;',
  ].join('\n  ');
}

/** Both views of processes that listen on a plain and a TLS port. */
function bothViews(id: string, label: string, plainUrl: string, tlsUrl: string, pid: number, pids: () => Promise<number[]>, log: () => Promise<string>, stop: () => Promise<void>): ServedBoth {
  const view = (url: string, suffix: string): SystemUnderTest => ({ id: `${id}${suffix}`, label: `${label}${suffix}`, url, pid, pids, economyPrefix: url, log, stop });
  return { plain: view(plainUrl, ''), tls: view(tlsUrl, ' (TLS)'), stop };
}

/**
 * pullthrough with serve.offload behind a real nginx rendered from the shipped config/nginx-offload.conf
 * (test/support/nginx-front.ts); nginx also listens with TLS (the shipped file has no TLS listener, so the
 * bench adds one as a deployment would). Clients talk to nginx; CPU counts nginx and the mirror.
 */
export async function startOffload(dir: string, opts: PullthroughOptions & { tls: TlsFiles; nginxWorkers: number }): Promise<ServedBoth> {
  const storagePath = join(dir, 'storage');
  const mirror = await startPullthrough(dir, { ...opts, tls: undefined, offload: true, storagePath, name: 'pullthrough-offload-mirror' });
  try {
    const tlsPort = await freePort();
    const front = await startNginxFront({
      mirror: new URL(mirror.url).host,
      storagePath,
      dir: join(dir, 'nginx'),
      workers: opts.nginxWorkers,
      serverExtra: tlsDirectives(opts.tls, tlsPort, 'offload'),
    });
    const pids = async (): Promise<number[]> => [...(await processTree(front.pid)), ...(await mirror.pids())];
    const log = async (): Promise<string> => `${await front.log()}\n${await mirror.log()}`;
    const stop = async (): Promise<void> => {
      await front.stop();
      await mirror.stop();
    };
    return bothViews('pullthrough-offload', 'pullthrough offload (nginx)', front.url, `https://127.0.0.1:${tlsPort}`, front.pid, pids, log, stop);
  } catch (e) {
    await mirror.stop();
    throw e;
  }
}

/**
 * The ceiling for the offload rows: nginx serving the blob files of `storagePath` (the store layout,
 * blobs/sha256/<first two hex>/<hex>) itself, no mirror asked — what sendfile alone gives on this machine.
 */
export async function startNginxDirect(dir: string, storagePath: string, tls: TlsFiles, workers: number): Promise<ServedBoth> {
  await mkdir(join(dir, 'logs'), { recursive: true });
  const [port, tlsPort] = [await freePort(), await freePort()];
  const config = [
    'user root;',
    `worker_processes ${workers};`,
    `pid ${join(dir, 'nginx.pid')};`,
    `error_log ${join(dir, 'logs', 'error.log')} warn;`,
    'events { worker_connections 1024; }',
    'http {',
    '  access_log off;',
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${join(dir, t)};`),
    '  server {',
    `    listen 127.0.0.1:${port};`,
    `    ${tlsDirectives(tls, tlsPort, 'direct')}`,
    '    sendfile on;',
    '    tcp_nopush on;',
    '    types { }',
    '    default_type application/octet-stream;',
    '    location = /v2/ { add_header Docker-Distribution-Api-Version registry/2.0 always; return 200 "{}"; }',
    `    location ~ "^/v2/.+/blobs/sha256:([0-9a-f]{2})([0-9a-f]{62})$" { alias ${join(storagePath, 'blobs', 'sha256')}/$1/$1$2; }`,
    '  }',
    '}',
    '',
  ].join('\n');
  const configPath = join(dir, 'nginx.conf');
  await writeFile(configPath, config);
  const proc = await spawnTracked('nginx', ['-p', dir, '-c', configPath, '-g', 'daemon off;'], { logFile: join(dir, 'nginx.out') });
  const url = `http://127.0.0.1:${port}`;
  const log = async (): Promise<string> => `${await readFile(join(dir, 'logs', 'error.log'), 'utf8').catch(() => '')}${await readFile(join(dir, 'nginx.out'), 'utf8').catch(() => '')}`;
  if (!(await waitForRegistryApi('nginx (direct) to listen', url, proc))) {
    await proc.stop(2_000);
    throw new Error(`nginx (direct) did not start:\n${await log()}`);
  }
  return bothViews('nginx-direct', 'nginx direct (sendfile)', url, `https://127.0.0.1:${tlsPort}`, proc.pid, () => processTree(proc.pid), log, () => proc.stop(5_000));
}

// The systems under test, each a separate process on a free loopback port with its storage in a temp dir:
// CNCF distribution 2.8 in proxy mode, and pullthrough from its built code (dist/server.js).

import { randomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from '../e2e/support/free-port.ts';
import { spawnTracked, type TrackedProcess } from '../e2e/support/tracked-process.ts';
import { waitFor } from '../e2e/support/wait-for.ts';

export interface SystemUnderTest {
  /** Short id used in the JSON: distribution, pullthrough-redis, pullthrough-embedded. */
  readonly id: string;
  readonly label: string;
  /** http://127.0.0.1:PORT */
  readonly url: string;
  /** The serving process, whose memory is measured. */
  readonly pid: number;
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
      const res = await fetch(`${url}/v2/`);
      await res.arrayBuffer();
      return res.status === 200 && res.headers.get('docker-distribution-api-version') === 'registry/2.0' ? true : undefined;
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
export async function startDistributionProxy(dir: string, upstream: UpstreamLogin): Promise<SystemUnderTest> {
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
    'proxy:',
    `  remoteurl: ${JSON.stringify(upstream.url)}`,
    `  username: ${JSON.stringify(upstream.username)}`,
    `  password: ${JSON.stringify(upstream.password)}`,
    '',
  ].join('\n');
  const configPath = join(dir, 'distribution.yml');
  await writeFile(configPath, config);
  const proc = await spawnTracked('docker-registry', ['serve', configPath], { logFile });
  const url = `http://127.0.0.1:${port}`;
  if (!(await waitForRegistryApi('distribution proxy to listen', url, proc))) {
    await proc.stop(2_000);
    throw new Error(`distribution did not start:\n${await readFile(logFile, 'utf8').catch(() => '')}`);
  }
  return {
    id: 'distribution',
    label: 'distribution 2.8 proxy',
    url,
    pid: proc.pid,
    economyPrefix: url,
    log: () => readFile(logFile, 'utf8').catch(() => ''),
    stop: () => proc.stop(10_000),
  };
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
  const url = `http://127.0.0.1:${port}`;
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

import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startCountingProxy, type CountFilter, type RecordedRequest } from './counting-proxy.ts';
import { freePort } from './free-port.ts';
import { writeHtpasswd } from './htpasswd.ts';
import { makeTempDir, removeTempDir } from './temp-dir.ts';
import { startTokenServer, type Credentials, type TokenServer } from './token-server.ts';
import { spawnTracked, type TrackedProcess } from './tracked-process.ts';
import { waitFor } from './wait-for.ts';

export type UpstreamAuth = 'token' | 'basic' | 'none';

export interface UpstreamRegistryOptions {
  /** 'token' (default) is Docker Hub's scheme; 'basic' is htpasswd; 'none' answers everyone. */
  auth?: UpstreamAuth;
}

export interface UpstreamRegistry {
  readonly auth: UpstreamAuth;
  /** The counting proxy, http://127.0.0.1:PORT: the mirror's upstream. */
  readonly url: string;
  /** host:port of `url`, for image references such as 127.0.0.1:PORT/library/alpine:latest. */
  readonly host: string;
  /** The registry itself, bypassing the counts: for seeding and for a client's direct reference pull. */
  readonly directUrl: string;
  readonly directHost: string;
  /** The token realm (`${tokenServerUrl}/token`); undefined unless auth is 'token'. */
  readonly tokenUrl: string | undefined;
  readonly tokenServer: TokenServer | undefined;
  /** Allowed to push (and pull); anonymous callers may pull only with 'token', nothing with 'basic'. */
  readonly credentials: Credentials;
  readonly dataDir: string;
  requests(): RecordedRequest[];
  count(filter?: CountFilter): number;
  /** Token requests seen by the token server (0 unless auth is 'token'). */
  tokenRequests(): number;
  /** Clears both the proxy's and the token server's counts. */
  resetCounts(): void;
  /** The proxy stops listening and drops its connections: to the mirror the upstream is down. */
  pause(): Promise<void>;
  /** Listens again on the same port. */
  resume(): Promise<void>;
  /** Registry log so far, for failure messages. */
  log(): Promise<string>;
  stop(): Promise<void>;
}

function registryConfig(port: number, storage: string, authBlock: string): string {
  // JSON is valid YAML, but the auth block reads better as YAML; values here never need quoting beyond JSON's.
  return [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${JSON.stringify(storage)}`,
    '  delete:',
    '    enabled: true',
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    `  secret: ${JSON.stringify(randomUUID())}`,
    authBlock,
    '',
  ].join('\n');
}

/**
 * Starts CNCF distribution (`docker-registry serve`) on a free loopback port with its storage in a temp dir,
 * the auth it is asked for, and a counting proxy in front. Everything is torn down by stop().
 */
export async function startUpstreamRegistry(opts: UpstreamRegistryOptions = {}): Promise<UpstreamRegistry> {
  const auth = opts.auth ?? 'token';
  const dir = await makeTempDir('upstream');
  const storage = join(dir, 'storage');
  const logFile = join(dir, 'registry.log');
  let tokenServer: TokenServer | undefined;
  let registry: TrackedProcess | undefined;
  try {
    let credentials: Credentials = { username: 'seeder', password: `pw-${randomUUID()}` };
    let authBlock = '';
    if (auth === 'token') {
      tokenServer = await startTokenServer({ dir, credentials });
      credentials = tokenServer.credentials;
      authBlock = [
        'auth:',
        '  token:',
        `    realm: ${JSON.stringify(tokenServer.realm)}`,
        `    service: ${JSON.stringify(tokenServer.service)}`,
        `    issuer: ${JSON.stringify(tokenServer.issuer)}`,
        `    rootcertbundle: ${JSON.stringify(tokenServer.certBundlePath)}`,
      ].join('\n');
    } else if (auth === 'basic') {
      const htpasswd = join(dir, 'htpasswd');
      await writeHtpasswd(htpasswd, credentials);
      authBlock = ['auth:', '  htpasswd:', '    realm: pullthrough-test', `    path: ${JSON.stringify(htpasswd)}`].join('\n');
    }

    // docker-registry cannot listen on port 0 and report the port, so pick a free one and retry on a lost race.
    let port = 0;
    for (let attempt = 0; attempt < 5 && registry === undefined; attempt++) {
      port = await freePort();
      const configPath = join(dir, 'config.yml');
      await writeFile(configPath, registryConfig(port, storage, authBlock));
      const proc = await spawnTracked('docker-registry', ['serve', configPath], { logFile });
      const started = await waitFor(
        'docker-registry to listen',
        async () => {
          if (!proc.isRunning()) return false;
          const res = await fetch(`http://127.0.0.1:${port}/v2/`);
          await res.arrayBuffer();
          // 401 with auth, 200 without: either way it is our registry answering.
          return res.headers.get('docker-distribution-api-version') === 'registry/2.0' ? true : undefined;
        },
        { timeoutMs: 15_000, intervalMs: 50 },
      );
      if (started) registry = proc;
      else await proc.stop();
    }
    if (registry === undefined) throw new Error(`docker-registry did not start:\n${await readFile(logFile, 'utf8')}`);

    const directUrl = `http://127.0.0.1:${port}`;
    const proxy = await startCountingProxy(directUrl);
    const reg = registry;
    const ts = tokenServer;
    return {
      auth,
      url: proxy.url,
      host: `127.0.0.1:${proxy.port}`,
      directUrl,
      directHost: `127.0.0.1:${port}`,
      tokenUrl: ts?.realm,
      tokenServer: ts,
      credentials,
      dataDir: dir,
      requests: () => proxy.requests(),
      count: (filter) => proxy.count(filter),
      tokenRequests: () => ts?.count() ?? 0,
      resetCounts: () => {
        proxy.resetCounts();
        ts?.resetCounts();
      },
      pause: () => proxy.pause(),
      resume: () => proxy.resume(),
      log: () => readFile(logFile, 'utf8').catch(() => ''),
      async stop() {
        await proxy.close();
        await reg.stop(5_000);
        await ts?.close();
        await removeTempDir(dir);
      },
    };
  } catch (e) {
    await registry?.stop(2_000);
    await tokenServer?.close();
    await removeTempDir(dir);
    throw e;
  }
}

import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { digestFromOutput, type PullResult } from './pull-result.ts';
import { proxyEnv, startRefusingProxy, type RefusingProxy } from './refusing-proxy.ts';
import { runCommand, type CommandResult } from './run-command.ts';
import { makeTempDir, removeTempDir } from './temp-dir.ts';
import { spawnTracked, type TrackedProcess } from './tracked-process.ts';
import { waitFor } from './wait-for.ts';

/** Debian's 20.10 CLI: the first `docker` on PATH may be a newer one that does not match this dockerd. */
const DOCKER_CLI = '/usr/bin/docker';

export interface DockerdOptions {
  /** http://127.0.0.1:PORT (plain HTTP works: dockerd uses the scheme given here). */
  mirrorUrl: string;
  /** Extra daemon.json keys, e.g. { 'max-concurrent-downloads': 1 }. */
  extraConfig?: Record<string, unknown>;
}

export interface Dockerd {
  readonly socket: string;
  readonly dir: string;
  /** Non-loopback connection attempts dockerd made (e.g. its fallback to registry-1.docker.io). */
  fallbackAttempts(): number;
  /** `docker pull REF`: a Docker Hub name such as library/alpine:latest goes to the mirror. */
  pull(ref: string): Promise<PullResult>;
  removeImage(ref: string): Promise<void>;
  /** Runs any docker CLI command against this daemon. */
  docker(args: readonly string[], timeoutMs?: number): Promise<CommandResult>;
  log(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Starts a private dockerd (vfs, no bridge, no iptables; all state under a temp dir) whose only Docker Hub
 * route is the given mirror: its proxy env points at a port that refuses everything, so a fallback to the
 * real Docker Hub fails fast and is counted.
 */
export async function startDockerd(opts: DockerdOptions): Promise<Dockerd> {
  const dir = await makeTempDir('dockerd');
  const socket = join(dir, 'docker.sock');
  const logFile = join(dir, 'dockerd.log');
  const mirrorHost = new URL(opts.mirrorUrl).host;
  let refusing: RefusingProxy | undefined;
  let proc: TrackedProcess | undefined;
  try {
    refusing = await startRefusingProxy();
    const config = {
      'storage-driver': 'vfs',
      bridge: 'none',
      iptables: false,
      ip6tables: false,
      'ip-masq': false,
      'userland-proxy': false,
      'data-root': join(dir, 'data'),
      'exec-root': join(dir, 'exec'),
      pidfile: join(dir, 'docker.pid'),
      'deprecated-key-path': join(dir, 'key.json'),
      hosts: [`unix://${socket}`],
      'registry-mirrors': [opts.mirrorUrl],
      'insecure-registries': [mirrorHost],
      ...opts.extraConfig,
    };
    const configFile = join(dir, 'daemon.json');
    await writeFile(configFile, JSON.stringify(config, null, 2));
    const env = { ...process.env, ...proxyEnv(refusing) };
    delete env.DOCKER_HOST;
    proc = await spawnTracked('dockerd', ['--config-file', configFile], { env, logFile });
    const running = proc;
    const cliEnv: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: join(dir, 'cli') };
    const docker = (args: readonly string[], timeoutMs = 120_000): Promise<CommandResult> =>
      runCommand(DOCKER_CLI, args, { env: cliEnv, timeoutMs });
    await waitFor(
      'dockerd to answer',
      async () => ((await docker(['version', '--format', '{{.Server.Version}}'], 5_000)).code === 0 ? true : undefined),
      {
        timeoutMs: 60_000,
        intervalMs: 200,
        abortIf: () => (running.isRunning() ? undefined : 'dockerd exited; see its log'),
      },
    ).catch(async (e: unknown) => {
      throw new Error(`${e instanceof Error ? e.message : String(e)}\n${await readFile(logFile, 'utf8').catch(() => '')}`);
    });
    const proxy = refusing;
    return {
      socket,
      dir,
      fallbackAttempts: () => proxy.connections(),
      docker,
      async pull(ref) {
        const res = await docker(['pull', ref]);
        const output = res.stdout + res.stderr;
        let digest = digestFromOutput(output);
        if (res.code === 0 && digest === undefined) {
          // Older outputs omit the line when the image was already present; RepoDigests still has it.
          const insp = await docker(['image', 'inspect', '--format', '{{json .RepoDigests}}', ref]);
          digest = /(sha256:[0-9a-f]{64})/.exec(insp.stdout)?.[1];
        }
        return { ok: res.code === 0, digest, output };
      },
      async removeImage(ref) {
        await docker(['image', 'rm', '--force', ref]);
      },
      log: () => readFile(logFile, 'utf8').catch(() => ''),
      async stop() {
        await running.stop(15_000);
        await proxy.close();
        await removeTempDir(dir);
      },
    };
  } catch (e) {
    await proc?.stop(5_000);
    await refusing?.close();
    await removeTempDir(dir);
    throw e;
  }
}

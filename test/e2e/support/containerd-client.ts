import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PullResult } from './pull-result.ts';
import { proxyEnv, startRefusingProxy, type RefusingProxy } from './refusing-proxy.ts';
import { runCommand, type CommandResult } from './run-command.ts';
import { makeTempDir, removeTempDir } from './temp-dir.ts';
import { spawnTracked, type TrackedProcess } from './tracked-process.ts';
import { waitFor } from './wait-for.ts';

export interface ContainerdPullOptions {
  /** A hosts directory as written by writeHostsToml: DIR/<registry host>/hosts.toml. */
  hostsDir: string;
  /** e.g. linux/arm64; default: the host's platform. The image is always unpacked (native snapshotter). */
  platform?: string;
  /** Fetch every platform's content (ctr --all-platforms). */
  allPlatforms?: boolean;
}

export interface Containerd {
  readonly socket: string;
  readonly dir: string;
  /** Non-loopback connection attempts ctr made (a fallback to the `server`). */
  fallbackAttempts(): number;
  /** `ctr images pull` of a full reference such as docker.io/library/alpine:latest. */
  pull(ref: string, opts: ContainerdPullOptions): Promise<PullResult>;
  removeImage(ref: string): Promise<void>;
  ctr(args: readonly string[], timeoutMs?: number): Promise<CommandResult>;
  log(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Writes DIR/<registryHost>/hosts.toml (containerd's registry host config, docs/hosts.md) with the mirror
 * as the only pull host. `server` is a closed port, so if containerd falls back from the mirror to the
 * registry itself the pull fails instead of reaching out.
 */
export async function writeHostsToml(dir: string, registryHost: string, mirrorUrl: string): Promise<string> {
  const hostDir = join(dir, registryHost);
  await mkdir(hostDir, { recursive: true });
  const file = join(hostDir, 'hosts.toml');
  await writeFile(
    file,
    [
      'server = "https://127.0.0.1:1"',
      '',
      `[host.${JSON.stringify(mirrorUrl)}]`,
      '  capabilities = ["pull", "resolve"]',
      '',
    ].join('\n'),
  );
  return file;
}

function configToml(dir: string, socket: string): string {
  const q = (s: string): string => JSON.stringify(s);
  return [
    'version = 2',
    `root = ${q(join(dir, 'root'))}`,
    `state = ${q(join(dir, 'state'))}`,
    // CRI would want CNI, a sandbox image and cgroups; a pull needs none of it.
    'disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]',
    '',
    '[grpc]',
    `  address = ${q(socket)}`,
    '',
    '[ttrpc]',
    `  address = ${q(`${socket}.ttrpc`)}`,
    '',
    '[debug]',
    '  address = ""',
    '',
    '[metrics]',
    '  address = ""',
    '',
    '[plugins."io.containerd.internal.v1.opt"]',
    // Default /opt/containerd is shared by every instance; keep each one to itself.
    `  path = ${q(join(dir, 'opt'))}`,
    '',
  ].join('\n');
}

/**
 * Starts a private containerd (no CRI, all state under a temp dir). ctr does the registry traffic itself
 * (the resolver runs in the client in 1.6), so the refusing proxy env is set on ctr, not only the daemon.
 */
export async function startContainerd(): Promise<Containerd> {
  const dir = await makeTempDir('ctrd');
  const socket = join(dir, 'c.sock');
  const logFile = join(dir, 'containerd.log');
  let refusing: RefusingProxy | undefined;
  let proc: TrackedProcess | undefined;
  try {
    refusing = await startRefusingProxy();
    const configFile = join(dir, 'config.toml');
    await writeFile(configFile, configToml(dir, socket));
    const env = { ...process.env, ...proxyEnv(refusing) };
    proc = await spawnTracked('containerd', ['--config', configFile], { env, logFile });
    const running = proc;
    const ctr = (args: readonly string[], timeoutMs = 120_000): Promise<CommandResult> =>
      runCommand('ctr', ['--address', socket, ...args], { env, timeoutMs });
    await waitFor(
      'containerd to answer',
      async () => ((await ctr(['version'], 5_000)).code === 0 ? true : undefined),
      { timeoutMs: 30_000, intervalMs: 100, abortIf: () => (running.isRunning() ? undefined : 'containerd exited') },
    ).catch(async (e: unknown) => {
      throw new Error(`${e instanceof Error ? e.message : String(e)}\n${await readFile(logFile, 'utf8').catch(() => '')}`);
    });
    const proxy = refusing;
    return {
      socket,
      dir,
      fallbackAttempts: () => proxy.connections(),
      ctr,
      async pull(ref, opts) {
        const args = ['images', 'pull', '--snapshotter', 'native', '--plain-http', '--hosts-dir', opts.hostsDir];
        if (opts.platform !== undefined) args.push('--platform', opts.platform);
        if (opts.allPlatforms === true) args.push('--all-platforms');
        args.push(ref);
        const res = await ctr(args);
        const output = res.stdout + res.stderr;
        if (res.code !== 0) return { ok: false, digest: undefined, output };
        // `ctr images ls` columns: REF TYPE DIGEST SIZE PLATFORMS LABELS.
        const ls = await ctr(['images', 'ls', `name==${ref}`]);
        const line = ls.stdout.split('\n').find((l) => l.split(/\s+/)[0] === ref);
        const digest = line?.split(/\s+/)[2];
        return { ok: true, digest, output };
      },
      async removeImage(ref) {
        await ctr(['images', 'rm', '--sync', ref]);
      },
      log: () => readFile(logFile, 'utf8').catch(() => ''),
      async stop() {
        await running.stop(10_000);
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

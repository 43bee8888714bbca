import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PullResult } from './pull-result.ts';
import { proxyEnv, startRefusingProxy } from './refusing-proxy.ts';
import { runCommand } from './run-command.ts';
import { makeTempDir, removeTempDir } from './temp-dir.ts';

export interface PodmanPullOptions {
  /**
   * The mirror as registries.conf wants it: host:port, optionally with a path (127.0.0.1:PORT/dockerhub makes
   * podman ask for /v2/dockerhub/library/NAME/...). Plain HTTP (insecure = true).
   */
  mirrorHost: string;
  /** The registry the mirror stands in for; default docker.io. */
  prefix?: string;
  /** e.g. arm64, to pull another instance of a multi-arch image. */
  arch?: string;
  timeoutMs?: number;
}

export interface PodmanPullResult extends PullResult {
  /** Every digest podman recorded for the image (RepoDigests): the index digest and the instance digest for multi-arch. */
  repoDigests: string[];
  /** Non-loopback connection attempts: podman fell back from the mirror to the real registry. */
  fallbackAttempts: number;
}

/**
 * One `podman pull` (rootful) in a throwaway storage: registries.conf sends `prefix` to the mirror only,
 * storage is vfs under a temp dir, which is deleted afterwards (failed pulls leave layers behind).
 */
export async function podmanPull(ref: string, opts: PodmanPullOptions): Promise<PodmanPullResult> {
  const dir = await makeTempDir('podman');
  const refusing = await startRefusingProxy();
  try {
    const prefix = opts.prefix ?? 'docker.io';
    const q = (s: string): string => JSON.stringify(s);
    const registriesConf = join(dir, 'registries.conf');
    await writeFile(
      registriesConf,
      [
        `unqualified-search-registries = [${q(prefix)}]`,
        '',
        '[[registry]]',
        `prefix = ${q(prefix)}`,
        `location = ${q(prefix)}`,
        '',
        '[[registry.mirror]]',
        `location = ${q(opts.mirrorHost)}`,
        'insecure = true',
        '',
      ].join('\n'),
    );
    const storageConf = join(dir, 'storage.conf');
    await writeFile(
      storageConf,
      ['[storage]', 'driver = "vfs"', `runroot = ${q(join(dir, 'run'))}`, `graphroot = ${q(join(dir, 'root'))}`, ''].join('\n'),
    );
    const containersConf = join(dir, 'containers.conf');
    await writeFile(
      containersConf,
      [
        '[engine]',
        // Keep every piece of podman state in the temp dir; the journald/file event log is not needed.
        'events_logger = "none"',
        'cgroup_manager = "cgroupfs"',
        `tmp_dir = ${q(join(dir, 'tmp'))}`,
        `static_dir = ${q(join(dir, 'libpod'))}`,
        `volume_path = ${q(join(dir, 'volumes'))}`,
        '',
        '[network]',
        `network_config_dir = ${q(join(dir, 'net'))}`,
        '',
      ].join('\n'),
    );
    // An empty auth file: podman refuses a REGISTRY_AUTH_FILE that does not exist.
    await writeFile(join(dir, 'auth.json'), '{"auths":{}}');
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...proxyEnv(refusing),
      CONTAINERS_REGISTRIES_CONF: registriesConf,
      CONTAINERS_STORAGE_CONF: storageConf,
      CONTAINERS_CONF: containersConf,
      // Registry credentials of the machine's user must not leak into the test.
      REGISTRY_AUTH_FILE: join(dir, 'auth.json'),
    };
    const podman = (args: readonly string[]) =>
      runCommand('podman', ['--root', join(dir, 'root'), '--runroot', join(dir, 'run'), '--storage-driver', 'vfs', ...args], {
        env,
        timeoutMs: opts.timeoutMs ?? 120_000,
      });
    const pullArgs = ['pull'];
    if (opts.arch !== undefined) pullArgs.push('--arch', opts.arch);
    pullArgs.push(ref);
    const res = await podman(pullArgs);
    const output = res.stdout + res.stderr;
    if (res.code !== 0) return { ok: false, digest: undefined, repoDigests: [], output, fallbackAttempts: refusing.connections() };
    const insp = await podman(['image', 'inspect', '--format', '{{.Digest}} {{json .RepoDigests}}', ref]);
    const [digest, json] = insp.stdout.trim().split(/ (.*)/s);
    const repoDigests = (JSON.parse(json ?? '[]') as string[]).map((d) => d.slice(d.indexOf('@') + 1));
    return { ok: true, digest, repoDigests, output: output + insp.stderr, fallbackAttempts: refusing.connections() };
  } finally {
    await refusing.close();
    await removeTempDir(dir);
  }
}

import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PullResult } from './pull-result.ts';
import { sha256Digest } from './registry-client.ts';
import { proxyEnv, startRefusingProxy } from './refusing-proxy.ts';
import { runCommand } from './run-command.ts';
import { makeTempDir, removeTempDir } from './temp-dir.ts';
import type { Credentials } from './token-server.ts';

export interface SkopeoOptions {
  /** Registry credentials, when the reference needs them (the mirror itself is anonymous). */
  creds?: Credentials;
  /** For multi-arch images: which instance skopeo picks for its config (inspect) or copies (copy without all). */
  arch?: string;
  timeoutMs?: number;
}

export interface SkopeoInspectOptions extends SkopeoOptions {
  /**
   * `inspect --raw`: one manifest GET and the digest of the exact bytes. Without it skopeo also fetches the
   * config blob (of the chosen instance for a multi-arch tag); its Digest is still the top-level one.
   */
  raw?: boolean;
}

export interface SkopeoCopyOptions extends SkopeoOptions {
  /** Copy every instance of a multi-arch index (--all); otherwise only the chosen platform's image. */
  all?: boolean;
  /** Also report the CPU seconds skopeo used (the bench: how much of a 2-core machine the client takes). */
  measureCpu?: boolean;
}

export interface SkopeoResult extends PullResult {
  /** With raw: the manifest bytes as served. */
  raw?: Buffer;
  /** With measureCpu: user + system CPU seconds of the skopeo process. */
  cpuSeconds?: number;
}

/**
 * Node gives no resource usage of a child, so skopeo runs under bash, whose `times` prints its children's
 * user and system time (the last line, e.g. `0m3.070s 0m1.700s`) after skopeo exits.
 */
const UNDER_BASH_TIMES = ['-c', 'skopeo "$@"; status=$?; times >&2; exit $status', 'skopeo'];

function childCpuSeconds(stderr: string): number | undefined {
  const last = stderr.trimEnd().split('\n').at(-1) ?? '';
  const times = [...last.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
  return times.length === 2 ? (times[0] as number) + (times[1] as number) : undefined;
}

/**
 * Runs skopeo in a private environment: a registries.conf of its own (skopeo ignores
 * CONTAINERS_REGISTRIES_CONF, so it is passed with --registries-conf), no stored credentials, and a
 * refusing proxy for anything off loopback.
 */
type SkopeoRunner = (args: readonly string[], timeoutMs?: number, measureCpu?: boolean) => ReturnType<typeof runCommand>;

async function withSkopeo<T>(fn: (run: SkopeoRunner, dir: string) => Promise<T>): Promise<T> {
  const dir = await makeTempDir('skopeo');
  const refusing = await startRefusingProxy();
  try {
    const registriesConf = join(dir, 'registries.conf');
    await writeFile(registriesConf, 'unqualified-search-registries = []\n');
    const authFile = join(dir, 'auth.json');
    await writeFile(authFile, '{"auths":{}}');
    const env: NodeJS.ProcessEnv = { ...process.env, ...proxyEnv(refusing), REGISTRY_AUTH_FILE: authFile };
    return await fn(
      (args, timeoutMs = 120_000, measureCpu = false) => {
        const skopeoArgs = ['--registries-conf', registriesConf, ...args];
        return measureCpu
          ? runCommand('bash', [...UNDER_BASH_TIMES, ...skopeoArgs], { env, timeoutMs })
          : runCommand('skopeo', skopeoArgs, { env, timeoutMs });
      },
      dir,
    );
  } finally {
    await refusing.close();
    await removeTempDir(dir);
  }
}

/**
 * `skopeo inspect docker://REF` against a plain-HTTP registry, e.g. REF = 127.0.0.1:PORT/dockerhub/library/alpine:latest.
 */
export function skopeoInspect(ref: string, opts: SkopeoInspectOptions = {}): Promise<SkopeoResult> {
  return withSkopeo(async (run) => {
    const global = opts.arch === undefined ? [] : [`--override-arch=${opts.arch}`];
    const args = [...global, 'inspect', '--tls-verify=false', '--no-tags'];
    if (opts.creds !== undefined) args.push('--creds', `${opts.creds.username}:${opts.creds.password}`);
    if (opts.raw === true) args.push('--raw');
    args.push(`docker://${ref}`);
    const res = await run(args, opts.timeoutMs);
    const output = res.stdout + res.stderr;
    if (res.code !== 0) return { ok: false, digest: undefined, output };
    if (opts.raw === true) {
      // The raw manifest is JSON (UTF-8), so the string round trip gives back the exact bytes.
      const raw = Buffer.from(res.stdout, 'utf8');
      return { ok: true, digest: sha256Digest(raw), output, raw };
    }
    const parsed = JSON.parse(res.stdout) as { Digest?: string };
    return { ok: true, digest: parsed.Digest, output };
  });
}

/**
 * `skopeo copy docker://REF dir:DEST`: a full pull of manifest, config and layers. The `dir:` transport keeps
 * the manifest as served (an `oci:` destination would convert Docker manifests and change the digest); the
 * digest comes from --digestfile.
 */
export function skopeoCopy(ref: string, destDir: string, opts: SkopeoCopyOptions = {}): Promise<SkopeoResult> {
  return withSkopeo(async (run, dir) => {
    const digestFile = join(dir, 'digest');
    const global = opts.arch === undefined ? [] : [`--override-arch=${opts.arch}`];
    const args = [...global, 'copy', '--quiet', '--src-tls-verify=false', '--digestfile', digestFile];
    if (opts.creds !== undefined) args.push('--src-creds', `${opts.creds.username}:${opts.creds.password}`);
    if (opts.all === true) args.push('--all');
    args.push(`docker://${ref}`, `dir:${destDir}`);
    const res = await run(args, opts.timeoutMs, opts.measureCpu);
    const output = res.stdout + res.stderr;
    if (res.code !== 0) return { ok: false, digest: undefined, output };
    const digest = (await readFile(digestFile, 'utf8').catch(() => '')).trim() || undefined;
    return { ok: true, digest, output, ...(opts.measureCpu === true ? { cpuSeconds: childCpuSeconds(res.stderr) } : {}) };
  });
}

import { copyFile, cp, mkdir, readdir, readFile, realpath, stat, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Dockerd } from './dockerd-client.ts';
import { runChecked, runCommand, type CommandResult } from './run-command.ts';
import { makeTempDir, removeTempDir } from './temp-dir.ts';

// The project's Dockerfile built and run for real on a machine with no Docker Hub (DESIGN.md, "Building and
// running the container image on these machines"): the Node base it names is assembled here from a Debian
// rootfs (debootstrap) plus this machine's own Node install, and passed in honestly as NODE_IMAGE.

/** Debian's 20.10 CLI: with DOCKER_BUILDKIT=1 it builds with BuildKit (the newer CLI on PATH may lack buildx). */
const DOCKER_CLI = '/usr/bin/docker';
const PROJECT_ROOT = join(import.meta.dirname, '..', '..', '..');

/** The docker CLI against `dockerd` with BuildKit on; `docker import` and `docker build` need more than dockerd.docker(). */
export function dockerEnv(dockerd: Dockerd): NodeJS.ProcessEnv {
  return { ...process.env, DOCKER_HOST: `unix://${dockerd.socket}`, DOCKER_CONFIG: join(dockerd.dir, 'cli'), DOCKER_BUILDKIT: '1' };
}

/** The Debian mirror apt uses for bookworm itself (not -security or -updates), from one-line or deb822 sources. */
export async function debianMirror(): Promise<string> {
  const files = ['/etc/apt/sources.list'];
  const dir = '/etc/apt/sources.list.d';
  for (const name of (await readdir(dir).catch(() => [])).sort()) {
    // Only what apt reads: *.list and *.sources (a renamed, disabled file does not count).
    if (name.endsWith('.list') || name.endsWith('.sources')) files.push(join(dir, name));
  }
  for (const file of files) {
    const text = await readFile(file, 'utf8').catch(() => '');
    // A whole-line comment goes (in deb822 it would otherwise read as the blank line between stanzas).
    const lines = text
      .split('\n')
      .filter((l) => !l.trimStart().startsWith('#'))
      .map((l) => l.replace(/#.*/, '').trim());
    if (file.endsWith('.sources')) {
      for (const stanza of lines.join('\n').split(/\n\s*\n/)) {
        const field = (key: string): string[] =>
          new RegExp(`^${key}:[ \\t]*(.*)$`, 'mi').exec(stanza)?.[1]?.split(/\s+/).filter(Boolean) ?? [];
        if (field('Enabled')[0] === 'no' || !field('Types').includes('deb')) continue;
        const uri = field('URIs')[0];
        if (uri !== undefined && field('Suites').includes('bookworm')) return uri;
      }
    } else {
      for (const line of lines) {
        const words = line.replace(/\[[^\]]*\]/, '').split(/\s+/);
        if (words[0] === 'deb' && words[2] === 'bookworm' && words[1] !== undefined) return words[1];
      }
    }
  }
  throw new Error('no Debian bookworm mirror in /etc/apt/sources.list or /etc/apt/sources.list.d/; debootstrap needs one');
}

/** The directory of the npm package (`name`) that the command `command` on PATH runs, or undefined. */
async function packageDirOf(command: string, name: string): Promise<string | undefined> {
  const found = await runCommand('sh', ['-c', `command -v ${command}`], { timeoutMs: 5_000 });
  if (found.code !== 0) return undefined;
  let dir = dirname(await realpath(found.stdout.trim()));
  while (dir !== '/') {
    const manifest = await readFile(join(dir, 'package.json'), 'utf8').catch(() => undefined);
    if (manifest !== undefined && (JSON.parse(manifest) as { name?: string }).name === name) return dir;
    dir = dirname(dir);
  }
  return undefined;
}

/**
 * This machine's Node install laid out as the official images have it under /usr/local: bin/node,
 * lib/node_modules/{npm,corepack} and their bin/ links. A dedicated install dir (a tarball under /opt, nvm)
 * is copied whole; from a shared prefix (/usr, as Debian and NodeSource have it) only what belongs to Node.
 */
async function stageNodeInstall(into: string): Promise<void> {
  const node = await realpath(process.execPath);
  const prefix = dirname(dirname(node));
  await mkdir(join(into, 'bin'), { recursive: true });
  await mkdir(join(into, 'lib', 'node_modules'), { recursive: true });
  const shared = ['/usr', '/usr/local', '/'].includes(prefix);
  if (!shared) await cp(prefix, into, { recursive: true, verbatimSymlinks: true });
  else await copyFile(node, join(into, 'bin', 'node'));
  const tools: [string, string, Record<string, string>][] = [
    ['npm', 'npm', { npm: 'bin/npm-cli.js', npx: 'bin/npx-cli.js' }],
    ['corepack', 'corepack', { corepack: 'dist/corepack.js' }],
  ];
  for (const [command, name, bins] of tools) {
    const dir = await packageDirOf(command, name);
    if (dir === undefined) {
      if (name === 'npm') throw new Error('npm is not on PATH; the Node base needs it for `npm ci`');
      continue;
    }
    const target = join(into, 'lib', 'node_modules', name);
    if (!(await stat(target).catch(() => undefined))) await cp(dir, target, { recursive: true, verbatimSymlinks: true });
    for (const [bin, entry] of Object.entries(bins)) {
      await symlink(`../lib/node_modules/${name}/${entry}`, join(into, 'bin', bin)).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'EEXIST') throw e;
      });
    }
  }
}

/** The CA bundle this machine's Node trusts beyond its own (the outbound TLS may be intercepted), or undefined. */
function machineCaBundle(): string | undefined {
  return process.env.NODE_EXTRA_CA_CERTS || process.env.SSL_CERT_FILE || undefined;
}

const bases = new WeakMap<Dockerd, Promise<string>>();

/**
 * A stand-in for node:<lts>-bookworm-slim in `dockerd`'s image store, built once per daemon: a minbase
 * bookworm rootfs imported as an image, plus this machine's node, npm and corepack, a `node` user (uid 1000)
 * and the machine's CA bundle as NODE_EXTRA_CA_CERTS, so `npm ci` inside a build trusts what npm here trusts.
 * Returns the image name. Nothing outlives the daemon's own temp dir.
 */
export function nodeBaseImage(dockerd: Dockerd): Promise<string> {
  let base = bases.get(dockerd);
  if (!base) {
    base = assembleNodeBase(dockerd);
    bases.set(dockerd, base);
  }
  return base;
}

async function assembleNodeBase(dockerd: Dockerd): Promise<string> {
  const env = dockerEnv(dockerd);
  const work = await makeTempDir('nodebase');
  const debianImage = 'pullthrough-test/debian:bookworm';
  const nodeImage = 'pullthrough-test/node:bookworm-slim';
  const phases: string[] = [];
  let mark = Date.now();
  const lap = (what: string): void => {
    phases.push(`${what} ${Math.round((Date.now() - mark) / 1000)} s`);
    mark = Date.now();
  };
  try {
    const rootfs = join(work, 'rootfs');
    await runChecked('debootstrap', ['--variant=minbase', 'bookworm', rootfs, await debianMirror()], { timeoutMs: 300_000 });
    await runChecked('bash', ['-c', 'set -o pipefail; tar -C "$1" -c . | "$2" import - "$3"', 'import', rootfs, DOCKER_CLI, debianImage], {
      env,
      timeoutMs: 180_000,
    });
    await removeTempDir(rootfs);
    lap('debootstrap + import');

    const context = join(work, 'context');
    await stageNodeInstall(join(context, 'node'));
    const lines = [`FROM ${debianImage}`, 'COPY node/ /usr/local/'];
    const ca = machineCaBundle();
    if (ca !== undefined) {
      await copyFile(ca, join(context, 'machine-ca.crt'));
      lines.push('COPY machine-ca.crt /usr/local/share/ca-certificates/machine-ca.crt');
      lines.push('ENV NODE_EXTRA_CA_CERTS=/usr/local/share/ca-certificates/machine-ca.crt');
    }
    // The npm registry this machine uses, if it is not npm's default (a company mirror): the machine's
    // environment, like its CA, so it belongs to the stand-in and never to the project's Dockerfile.
    const registry = (await runCommand('npm', ['config', 'get', 'registry'], { timeoutMs: 30_000 })).stdout.trim();
    if (registry !== '' && registry !== 'https://registry.npmjs.org/') lines.push(`ENV npm_config_registry=${registry}`);
    lines.push(
      'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      // As the official images make it.
      'RUN groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node && node --version && npm --version',
      'CMD ["node"]',
    );
    await writeFile(join(context, 'Dockerfile'), `${lines.join('\n')}\n`);
    await runChecked(DOCKER_CLI, ['build', '--network', 'host', '--tag', nodeImage, context], { env, timeoutMs: 180_000 });
    lap('node layer');
    // CI runs on two cores with a time budget: say where the time went.
    console.error(`node base image: ${phases.join(', ')}`);
    return nodeImage;
  } finally {
    await removeTempDir(work);
  }
}

/**
 * Proxy variables of this machine, passed as build args (Docker predefines them, so the Dockerfile needs no
 * ARG and keeps none in the image): `npm ci` inside the build goes out the way npm here does.
 */
function proxyBuildArgs(): string[] {
  const names = ['HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'no_proxy'];
  return names.flatMap((name) => (process.env[name] ? ['--build-arg', `${name}=${process.env[name]}`] : []));
}

/** `docker build` of the project's own Dockerfile on the stand-in base; returns the result (output for failures). */
export async function buildProjectImage(dockerd: Dockerd, tag: string): Promise<CommandResult> {
  const base = await nodeBaseImage(dockerd);
  return runCommand(
    DOCKER_CLI,
    ['build', '--network', 'host', '--progress', 'plain', '--build-arg', `NODE_IMAGE=${base}`, ...proxyBuildArgs(), '--tag', tag, PROJECT_ROOT],
    { env: dockerEnv(dockerd), timeoutMs: 420_000 },
  );
}

/** The project's version, as `pullthrough --version` should print it. */
export async function projectVersion(): Promise<string> {
  return (JSON.parse(await readFile(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { chown, mkdir, readdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import { gzipSync } from 'node:zlib';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { buildProjectImage, nodeBaseImage, projectVersion } from './support/container-image.ts';
import { type Dockerd, startDockerd } from './support/dockerd-client.ts';
import { freePort } from './support/free-port.ts';
import { createTar } from './support/tar-archive.ts';
import { makeTempDir, removeTempDir } from './support/temp-dir.ts';
import { waitFor } from './support/wait-for.ts';

// Issue 12: the image is built from the project's Dockerfile for real (on a Node base assembled offline,
// see support/container-image.ts) and run the way the README tells users to: a config file mounted and
// named by PULLTHROUGH_CONFIG must win over the image's own defaults (0.0.0.0:5000, /var/lib/pullthrough),
// the `pullthrough` command must be on PATH for `docker exec`, and the server must not run as root.
// dockerd's registry-mirrors points at the container, so a real `docker pull` goes through it to an
// upstream that counts requests.

const IMAGE = 'pullthrough-test/pullthrough:e2e';
const MOUNTED_CONFIG = '/etc/pullthrough/pullthrough.yaml';
const NODE_UID = 1000;

let work: string;
let dockerd: Dockerd;
let upstream: MemoryRegistry;
let mirrorPort: number;
let mirrorUrl: string;
let container: string;
let dataDir: string;
/** Whether nothing listened on port 5000 before the test (the image's default port), so it can be checked. */
let port5000Free: boolean;
const containers: string[] = [];

/** A docker command against our dockerd that must succeed; returns stdout. */
async function docker(args: readonly string[], timeoutMs?: number): Promise<string> {
  const res = await dockerd.docker(args, timeoutMs);
  assert.equal(res.code, 0, `docker ${args.join(' ')}: ${res.stderr}${res.stdout}`);
  return res.stdout;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    // All interfaces: what the image's default (0.0.0.0:5000) would need.
    srv.listen(port, '0.0.0.0', () => srv.close(() => resolve(true)));
  });
}

async function startDockerdWithFastestStorage(mirror: string): Promise<Dockerd> {
  try {
    return await startDockerd({ mirrorUrl: mirror, extraConfig: { 'storage-driver': 'overlay2' } });
  } catch (e) {
    // overlay2 needs a filesystem that can hold overlay upper dirs (not overlayfs itself); vfs always works.
    console.error(`overlay2 did not work, falling back to vfs: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
    return startDockerd({ mirrorUrl: mirror });
  }
}

/** `docker run -d --network host ...IMAGE`; waits until /v2/ answers at `url`, or fails with the container's log. */
async function runMirrorContainer(runArgs: readonly string[], url: string): Promise<string> {
  const id = (await docker(['run', '--detach', '--network', 'host', ...runArgs, IMAGE])).trim();
  containers.push(id);
  await waitFor(
    `the container's mirror to answer at ${url}`,
    async () => {
      try {
        const res = await fetch(`${url}/v2/`);
        await res.arrayBuffer();
        return res.status === 200 ? true : undefined;
      } catch (e) {
        const state = (await dockerd.docker(['inspect', '--format', '{{.State.Running}}', id])).stdout.trim();
        if (state === 'false') {
          const logs = await dockerd.docker(['logs', id]);
          throw new Error(`the container exited:\n${logs.stdout}${logs.stderr}`);
        }
        throw e;
      }
    },
    { timeoutMs: 30_000, intervalMs: 200 },
  );
  return id;
}

/** A real image (a gzipped tar layer, a config with its diff_id) that dockerd can pull and unpack. */
function addPullableImage(registry: MemoryRegistry, repository: string, tag: string): { digest: string; layer: string; config: string } {
  const tar = createTar([{ path: 'hello.txt', content: randomBytes(2048) }]);
  const layerBytes = gzipSync(tar);
  const layer = registry.addBlob(layerBytes);
  const diffId = `sha256:${createHash('sha256').update(tar).digest('hex')}`;
  const configBytes = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [diffId] } }));
  const config = registry.addBlob(configBytes);
  const mediaType = 'application/vnd.docker.distribution.manifest.v2+json';
  const manifest = {
    schemaVersion: 2,
    mediaType,
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: configBytes.length, digest: config },
    layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: layerBytes.length, digest: layer }],
  };
  const { digest } = registry.putManifest(repository, tag, mediaType, Buffer.from(JSON.stringify(manifest, null, 3)));
  return { digest, layer, config };
}

before(async () => {
  const started = Date.now();
  work = await makeTempDir('image');
  port5000Free = await portFree(5000);
  upstream = await new MemoryRegistry().start();
  mirrorPort = await freePort();
  mirrorUrl = `http://127.0.0.1:${mirrorPort}`;
  dockerd = await startDockerdWithFastestStorage(mirrorUrl);

  await nodeBaseImage(dockerd);
  const building = Date.now();
  const built = await buildProjectImage(dockerd, IMAGE);
  assert.equal(built.code, 0, `docker build failed:\n${(built.stderr + built.stdout).slice(-6000)}`);
  console.error(`project image built in ${Math.round((Date.now() - building) / 1000)} s; set-up so far ${Math.round((Date.now() - started) / 1000)} s`);

  // What a user mounts: a config file saying where to listen and store, and a data dir the node user owns.
  const configDir = join(work, 'config');
  dataDir = join(work, 'data');
  await mkdir(configDir);
  await mkdir(dataDir);
  await chown(dataDir, NODE_UID, NODE_UID);
  await writeFile(
    join(configDir, 'pullthrough.yaml'),
    [
      `listen: 127.0.0.1:${mirrorPort}`,
      'logLevel: info',
      'storage:',
      '  path: /data/store',
      'upstreams:',
      '  dockerhub:',
      `    url: ${upstream.url}`,
      '    aliases: [docker.io]',
      '    defaultNamespace: library',
      '    tagTtl: 5m',
      '',
    ].join('\n'),
    { mode: 0o644 },
  );
  container = await runMirrorContainer(
    [
      '--volume', `${join(configDir, 'pullthrough.yaml')}:${MOUNTED_CONFIG}:ro`,
      '--volume', `${dataDir}:/data`,
      '--env', `PULLTHROUGH_CONFIG=${MOUNTED_CONFIG}`,
    ],
    mirrorUrl,
  );
});

after(async () => {
  if (dockerd) {
    for (const id of containers) await dockerd.docker(['rm', '--force', '--volumes', id]);
    await dockerd.stop();
  }
  await upstream?.stop();
  if (work) await removeTempDir(work);
});

test('a mounted config named by PULLTHROUGH_CONFIG wins over the image defaults', async () => {
  const res = await fetch(`${mirrorUrl}/v2/`);
  await res.arrayBuffer();
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
  if (port5000Free) {
    // The image's own config (0.0.0.0:5000) was not used as well or instead.
    await assert.rejects(fetch('http://127.0.0.1:5000/v2/'), 'nothing listens on the image default port 5000');
  }
  const env = await docker(['inspect', '--format', '{{json .Config.Env}}', container]);
  assert.ok(!/PULLTHROUGH_LISTEN|PULLTHROUGH_STORAGE/.test(env), `no PULLTHROUGH_* variable overrides the file: ${env}`);
});

test('pullthrough is on PATH: --version and config check work through docker exec', async () => {
  const version = await docker(['exec', container, 'pullthrough', '--version']);
  assert.match(version, new RegExp(`\\b${(await projectVersion()).replaceAll('.', '\\.')}\\b`));
  const check = await dockerd.docker(['exec', container, 'pullthrough', 'config', 'check']);
  assert.equal(check.code, 0, `config check: ${check.stdout}${check.stderr}`);
  // It checked the mounted file (PULLTHROUGH_CONFIG), not the image's.
  assert.match(check.stdout + check.stderr, new RegExp(`127\\.0\\.0\\.1:${mirrorPort}|${MOUNTED_CONFIG.replaceAll('.', '\\.')}`));
});

test('the server runs as the unprivileged node user (uid 1000)', async () => {
  const status = await docker(['exec', container, 'cat', '/proc/1/status']);
  const uids = /^Uid:\s+(\d+)\s+(\d+)/m.exec(status);
  assert.equal(uids?.[1], String(NODE_UID), `real uid of PID 1:\n${status}`);
  assert.equal(uids?.[2], String(NODE_UID), 'effective uid of PID 1');
  const cmdline = await docker(['exec', container, 'cat', '/proc/1/cmdline']);
  assert.match(cmdline, /dist\/server\.js/, 'PID 1 is the server');
});

test('docker pulls through the container; the second pull goes upstream for nothing', async () => {
  const image = addPullableImage(upstream, 'library/hello', 'latest');
  upstream.resetCounts();
  const first = await dockerd.pull('library/hello:latest');
  assert.ok(first.ok, first.output);
  assert.equal(first.digest, image.digest);
  assert.equal(dockerd.fallbackAttempts(), 0, 'dockerd never fell back to Docker Hub');
  assert.equal(upstream.count({ method: 'GET', kind: 'blob' }), 2, 'config and layer fetched upstream once each');

  // The blobs were kept where the mounted config says, in the mounted dir.
  const layerHex = image.layer.slice('sha256:'.length);
  const shard = await readdir(join(dataDir, 'store', 'blobs', 'sha256', layerHex.slice(0, 2)));
  assert.ok(shard.includes(layerHex), 'the layer is in <mounted dir>/store/blobs/sha256/');

  upstream.resetCounts();
  await dockerd.removeImage('library/hello:latest');
  const second = await dockerd.pull('library/hello:latest');
  assert.ok(second.ok, second.output);
  assert.equal(second.digest, image.digest);
  assert.equal(upstream.count({ method: 'GET' }), 0, 'served from the container cache: no upstream GET');
  assert.equal(dockerd.fallbackAttempts(), 0);
});

test('with no mounted config the image listens on 0.0.0.0:5000', async (t: TestContext) => {
  if (!port5000Free) {
    t.skip('port 5000 was in use on this machine before the test; cannot run the image with its default config');
    return;
  }
  const id = await runMirrorContainer([], 'http://127.0.0.1:5000');
  const inspect = await docker(['inspect', '--format', '{{.Config.User}} {{json .Config.Env}}', id]);
  assert.match(inspect, /^node /, 'the image runs as node');
  assert.match(inspect, /PULLTHROUGH_CONFIG=\/app\/config\/container\.yaml/);
  const check = await dockerd.docker(['exec', id, 'pullthrough', 'config', 'check']);
  assert.equal(check.code, 0, `config check of the image's own config: ${check.stdout}${check.stderr}`);
  await docker(['rm', '--force', '--volumes', id]);
  containers.splice(containers.indexOf(id), 1);
});

import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startMirror, type TestMirror } from '../support/mirror.ts';
import { seedImage, type SeededImage } from './support/images.ts';
import { proxyEnv, type RefusingProxy, startRefusingProxy } from './support/refusing-proxy.ts';
import { runCommand } from './support/run-command.ts';
import { makeTempDir, removeTempDir } from './support/temp-dir.ts';
import { startUpstreamRegistry, type UpstreamRegistry } from './support/upstream-registry.ts';

// Issue 13, item 1, with real clients: `virtualHosts: "*.cache.localhost"` routes ghcr.cache.localhost to
// the upstream named (or aliased) "ghcr", from the request's Host, against a real distribution registry
// behind token auth. Names under .localhost resolve to loopback without editing system files:
// - curl (7.88) resolves *.localhost to 127.0.0.1 itself (RFC 6761), no --resolve needed;
// - skopeo 1.9 (Go's resolver) does not and has no flag for it ("lookup ghcr.cache.localhost ... no such
//   host"); it runs here in a private mount namespace (`unshare -m`) whose /etc/hosts is a bind-mounted
//   temp file naming ghcr.cache.localhost — the machine's /etc/hosts is never touched.

const VHOST = 'ghcr.cache.localhost';
let upstream: UpstreamRegistry;
let mirror: TestMirror;
let image: SeededImage;
let work: string;
let refusing: RefusingProxy;
let port: string;

before(async () => {
  upstream = await startUpstreamRegistry({ auth: 'token' });
  image = await seedImage(upstream, { name: 'owner/vhost-app', tag: 'v1', kind: 'oci', extraLayerBytes: 64 * 1024 });
  // Two upstreams, so the default one would be wrong: only the virtual host picks "ghcr".
  mirror = await startMirror(
    { ghcr: { url: upstream.url }, other: { url: 'http://127.0.0.1:9' } },
    { defaultUpstream: 'other', keyv: 'configured', extra: { virtualHosts: '*.cache.localhost' } },
  );
  port = new URL(mirror.url).port;
  work = await makeTempDir('vhost-e2e');
  refusing = await startRefusingProxy();
});
after(async () => {
  await refusing?.close();
  await mirror?.close();
  await upstream?.stop();
  await removeTempDir(work);
});

/** skopeo in a private mount namespace whose /etc/hosts maps the virtual host to loopback. */
async function skopeo(args: string[]): Promise<{ code: number | null; output: string }> {
  const hosts = join(work, 'hosts');
  await writeFile(hosts, `127.0.0.1 localhost\n127.0.0.1 ${VHOST}\n`);
  const registriesConf = join(work, 'registries.conf');
  await writeFile(registriesConf, 'unqualified-search-registries = []\n');
  const auth = join(work, 'auth.json');
  await writeFile(auth, '{"auths":{}}');
  const env = { ...process.env, ...proxyEnv(refusing), NO_PROXY: `127.0.0.1,localhost,::1,${VHOST}`, no_proxy: `127.0.0.1,localhost,::1,${VHOST}`, REGISTRY_AUTH_FILE: auth };
  const result = await runCommand('unshare', ['-m', 'sh', '-c', `mount --bind ${hosts} /etc/hosts && exec skopeo --registries-conf ${registriesConf} "$@"`, 'sh', ...args], { env, timeoutMs: 120_000 });
  return { code: result.code, output: result.stdout + result.stderr };
}

test('skopeo copies ghcr.cache.localhost:PORT/owner/img through the ghcr upstream; curl reads it back from the cache', async (t) => {
  const probe = await runCommand('unshare', ['-m', 'true']);
  if (probe.code !== 0) {
    t.skip(`unshare -m not permitted here: ${probe.stderr.trim()}`);
    return;
  }
  upstream.resetCounts();
  const digestFile = join(work, 'digest');
  const copied = await skopeo(['copy', '--quiet', '--src-tls-verify=false', '--digestfile', digestFile, `docker://${VHOST}:${port}/${image.name}:${image.tag}`, `dir:${join(work, 'copy')}`]);
  assert.equal(copied.code, 0, copied.output);
  assert.equal((await readFile(digestFile, 'utf8')).trim(), image.digest);
  assert.ok(upstream.count() > 0, 'the first pull went to the ghcr upstream');
  assert.equal(refusing.connections(), 0, 'nothing tried to leave loopback');

  // curl resolves *.localhost itself: the manifest and every layer by the virtual host, from the cache.
  upstream.resetCounts();
  const base = `http://${VHOST}:${port}/v2/${image.name}`;
  const manifest = await runCommand('curl', ['-sS', '-D', '-', '-o', '/dev/null', '-H', `accept: ${image.mediaType}`, `${base}/manifests/${image.tag}`]);
  assert.match(manifest.stdout, /^HTTP\/1\.1 200/);
  assert.match(manifest.stdout.toLowerCase(), new RegExp(`docker-content-digest: ${image.digest}`));
  for (const layer of image.layers) {
    const blob = await runCommand('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code} %{remote_ip}', `${base}/blobs/${layer.digest}`]);
    assert.equal(blob.stdout, '200 127.0.0.1');
  }
  assert.equal(upstream.count(), 0, 'second pull by the virtual host: 0 upstream requests');

  // A label that names no upstream is NAME_UNKNOWN, never an address to contact.
  const unknown = await runCommand('curl', ['-sS', `http://nope.cache.localhost:${port}/v2/${image.name}/manifests/${image.tag}`]);
  assert.match(unknown.stdout, /NAME_UNKNOWN/);
  assert.equal(upstream.count(), 0);
});

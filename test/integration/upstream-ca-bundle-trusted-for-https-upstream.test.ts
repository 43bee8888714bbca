import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { buildApp } from '../../src/app.ts';
import { ConfigError, parseConfig } from '../../src/config.ts';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

// Issue 9: `upstreams.<name>.ca` is a PEM bundle trusted (besides the default roots) for that upstream's
// TLS connections only; a file that cannot be read or is not PEM stops the start with a clear message.

let dir: string;
let registry: MemoryRegistry;
let front: https.Server;
let url: string;
let trusting: TestMirror;
let plain: TestMirror;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'pullthrough-upstream-ca-'));
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=private-registry', '-addext', 'subjectAltName=IP:127.0.0.1',
    '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'),
  ], { stdio: 'ignore' });
  registry = await new MemoryRegistry({ tokenAuth: true }).start();
  // An HTTPS front for the in-memory registry, with a certificate no default root vouches for.
  front = https.createServer({ cert: await readFile(path.join(dir, 'cert.pem')), key: await readFile(path.join(dir, 'key.pem')) }, (req, res) => {
    const forwarded = http.request(`${registry.url}${req.url ?? '/'}`, { method: req.method, headers: req.headers }, (answer) => {
      const headers = { ...answer.headers };
      // The registry names its own plain-HTTP token realm; behind the front it is the front's.
      const challenge = headers['www-authenticate'];
      if (typeof challenge === 'string') headers['www-authenticate'] = challenge.split(registry.url).join(url);
      res.writeHead(answer.statusCode ?? 502, headers);
      answer.pipe(res);
    });
    forwarded.on('error', () => res.destroy());
    req.pipe(forwarded);
  });
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', () => resolve()));
  url = `https://127.0.0.1:${(front.address() as AddressInfo).port}`;
  trusting = await startMirror({ secure: { url, ca: path.join(dir, 'cert.pem') } });
  plain = await startMirror({ secure: { url } });
});
after(async () => {
  await trusting.close();
  await plain.close();
  front.closeAllConnections();
  await new Promise<void>((resolve) => front.close(() => resolve()));
  await registry.stop();
  await rm(dir, { recursive: true, force: true });
});

test('with the CA configured, manifests, tokens, blobs and listings come over HTTPS; without it, nothing does', async () => {
  const image = registry.addImage('team/app', 'v1', 20_000);
  const manifest = await fetch(`${trusting.url}/v2/team/app/manifests/v1`);
  assert.equal(manifest.status, 200);
  assert.deepEqual(Buffer.from(await manifest.arrayBuffer()), image.manifest.bytes);
  const blob = await fetch(`${trusting.url}/v2/team/app/blobs/${image.layer}`);
  assert.equal(blob.status, 200);
  assert.deepEqual(Buffer.from(await blob.arrayBuffer()), registry.blobs.get(image.layer));
  const tags = await fetch(`${trusting.url}/v2/team/app/tags/list`);
  assert.equal(tags.status, 200);
  assert.deepEqual(await tags.json(), { name: 'team/app', tags: ['v1'] });
  assert.ok(registry.count({ kind: 'token' }) >= 1, 'the token came from the HTTPS realm');

  registry.resetCounts();
  const refused = await fetch(`${plain.url}/v2/team/app/manifests/v1`);
  await refused.arrayBuffer();
  assert.equal(refused.status, 503, 'the CA is trusted only where configured');
  assert.equal(registry.requests.length, 0, 'the untrusted certificate stopped the request at the handshake');
});

test('a CA file that cannot be read or is not PEM stops the start with a message naming the key', async () => {
  await writeFile(path.join(dir, 'not-pem.txt'), 'hello');
  for (const [file, message] of [
    [path.join(dir, 'not-pem.txt'), /upstreams\.secure\.ca: .*not-pem\.txt is not a PEM certificate bundle/],
    [path.join(dir, 'missing.pem'), /upstreams\.secure\.ca: cannot read .*missing\.pem \(ENOENT\)/],
  ] as const) {
    const config = parseConfig({
      storage: { path: path.join(dir, 'store') },
      defaultUpstream: 'secure',
      upstreams: { secure: { url, ca: file } },
    });
    await assert.rejects(buildApp(config, { logger: false }), (error: unknown) => {
      assert.ok(error instanceof ConfigError, String(error));
      assert.match(error.message, message);
      return true;
    });
  }
});

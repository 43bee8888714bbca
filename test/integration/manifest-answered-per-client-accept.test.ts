import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';
import { DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST } from '../../src/manifest-media-types.ts';
import { MemoryRegistry, type StoredManifest } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

// Issue 13, item 6: a client gets only a manifest type it accepts. The mirror keeps what the upstream
// serves to a modern client (the index); an older client gets the linux/amd64 manifest instead, or
// MANIFEST_UNKNOWN, as distribution does.

let upstream: MemoryRegistry;
let mirror: TestMirror;
let list: StoredManifest;
let amd64: string;
let single: string;

before(async () => {
  upstream = await new MemoryRegistry().start();
  mirror = await startMirror({ hub: { url: upstream.url } });
  const arm = upstream.addImage('multi/app', 'arm64-only');
  const x86 = upstream.addImage('multi/app', 'amd64-only');
  amd64 = x86.digest;
  const entry = (digest: string, size: number, architecture: string) => ({ mediaType: DOCKER_MANIFEST, digest, size, platform: { os: 'linux', architecture } });
  list = upstream.putManifest('multi/app', 'v1', DOCKER_MANIFEST_LIST, Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: DOCKER_MANIFEST_LIST,
    manifests: [entry(arm.digest, arm.manifest.bytes.length, 'arm64'), entry(x86.digest, x86.manifest.bytes.length, 'amd64')],
  }, null, 2)));
  single = upstream.addImage('single/app', 'v1').digest;
});
after(async () => {
  await mirror.close();
  await upstream.stop();
});

interface Answer {
  statusCode: number;
  headers: http.IncomingHttpHeaders;
  rawPayload: Buffer;
  body: string;
}

/** Over a real socket (HEAD bodies are what Node's server sends), with exactly the Accept lines given. */
function ask(path: string, accept: string | string[] | undefined, method: 'GET' | 'HEAD' = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = http.request(`${mirror.url}${path}`, { method, headers: accept === undefined ? {} : { accept } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const rawPayload = Buffer.concat(chunks);
        resolve({ statusCode: response.statusCode ?? 0, headers: response.headers, rawPayload, body: rawPayload.toString('utf8') });
      });
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end();
  });
}

function code(body: string): string | undefined {
  return (JSON.parse(body) as { errors: Array<{ code: string }> }).errors[0]?.code;
}

test('no Accept, or */*, gets the index as kept', async () => {
  for (const accept of [undefined, '*/*', `${OCI_MANIFEST}, */*`]) {
    const response = await ask('/v2/multi/app/manifests/v1', accept);
    assert.equal(response.statusCode, 200, String(accept));
    assert.equal(response.headers['content-type'], DOCKER_MANIFEST_LIST);
    assert.equal(response.headers['docker-content-digest'], list.digest);
    assert.deepEqual(response.rawPayload, list.bytes);
  }
});

test('Accept only Docker schema 2: the linux/amd64 manifest, with its own digest, fetched once', async () => {
  upstream.resetCounts();
  for (let i = 0; i < 3; i++) {
    const response = await ask('/v2/multi/app/manifests/v1', [DOCKER_MANIFEST, 'application/vnd.docker.distribution.manifest.v1+prettyjws']);
    assert.equal(response.statusCode, 200);
    assert.equal(response.headers['content-type'], DOCKER_MANIFEST);
    assert.equal(response.headers['docker-content-digest'], amd64);
    assert.deepEqual(response.rawPayload, upstream.manifests.get(amd64)?.bytes);
    assert.equal(response.headers['content-length'], String(upstream.manifests.get(amd64)?.bytes.length));
  }
  assert.equal(upstream.count({ kind: 'manifest', method: 'GET' }), 1, 'the child once, the index from the cache');
});

test('Accept only the OCI manifest, index is a Docker list of Docker manifests: MANIFEST_UNKNOWN, never another type', async () => {
  const response = await ask('/v2/multi/app/manifests/v1', OCI_MANIFEST);
  assert.equal(response.statusCode, 404);
  assert.equal(code(response.body), 'MANIFEST_UNKNOWN');
});

test('Accept only OCI types for a single Docker manifest: MANIFEST_UNKNOWN', async () => {
  const response = await ask('/v2/single/app/manifests/v1', [OCI_INDEX, OCI_MANIFEST]);
  assert.equal(response.statusCode, 404);
  assert.equal(code(response.body), 'MANIFEST_UNKNOWN');
  const ok = await ask('/v2/single/app/manifests/v1', DOCKER_MANIFEST);
  assert.equal(ok.headers['docker-content-digest'], single);
});

test('by digest, an index the client does not accept is MANIFEST_UNKNOWN (a digest never answers with other bytes)', async () => {
  const response = await ask(`/v2/multi/app/manifests/${list.digest}`, DOCKER_MANIFEST);
  assert.equal(response.statusCode, 404);
  assert.equal(code(response.body), 'MANIFEST_UNKNOWN');
  const accepted = await ask(`/v2/multi/app/manifests/${list.digest}`, DOCKER_MANIFEST_LIST);
  assert.equal(accepted.headers['docker-content-digest'], list.digest);
});

test('q=0 excludes the list even next to */*', async () => {
  const response = await ask('/v2/multi/app/manifests/v1', `*/*, ${DOCKER_MANIFEST_LIST};q=0`);
  assert.equal(response.statusCode, 200);
  assert.equal(response.headers['docker-content-digest'], amd64);
});

test('HEAD matches GET: status, type, digest, length, for every Accept', async () => {
  for (const accept of [undefined, DOCKER_MANIFEST, OCI_MANIFEST, DOCKER_MANIFEST_LIST]) {
    const get = await ask('/v2/multi/app/manifests/v1', accept);
    const head = await ask('/v2/multi/app/manifests/v1', accept, 'HEAD');
    assert.equal(head.statusCode, get.statusCode, String(accept));
    assert.equal(head.body, '');
    for (const name of ['content-type', 'docker-content-digest', 'content-length', 'etag']) {
      assert.equal(head.headers[name], get.headers[name], `${name} for ${String(accept)}`);
    }
  }
});

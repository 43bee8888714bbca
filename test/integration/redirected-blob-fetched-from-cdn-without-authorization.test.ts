import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

const passwordEnv = `PULLTHROUGH_TEST_PASSWORD_${randomBytes(6).toString('hex').toUpperCase()}`;
const password = `pw-${randomBytes(8).toString('hex')}`;

let tokenUpstream: MemoryRegistry;
let basicUpstream: MemoryRegistry;
let mirror: TestMirror;

before(async () => {
  process.env[passwordEnv] = password;
  tokenUpstream = await new MemoryRegistry({ tokenAuth: true, redirectBlobs: true }).start();
  basicUpstream = await new MemoryRegistry({ basicAuth: { username: 'dave', password }, redirectBlobs: true }).start();
  mirror = await startMirror({
    hub: { url: tokenUpstream.url, defaultNamespace: 'library' },
    internal: { url: basicUpstream.url, username: 'dave', passwordEnv, public: true },
  });
});
after(async () => {
  await mirror.close();
  await tokenUpstream.stop();
  await basicUpstream.stop();
  delete process.env[passwordEnv];
});

test('a 307 to the CDN is followed server-side without the token, and the blob is kept', async () => {
  tokenUpstream.putManifest('library/redirected', 'latest', 'application/vnd.oci.image.manifest.v1+json', Buffer.from('{}'));
  const { digest, bytes } = tokenUpstream.addRandomBlob(200_000);

  const first = await fetch(`${mirror.url}/v2/redirected/blobs/${digest}`, { redirect: 'manual' });
  assert.equal(first.status, 200, 'the client never sees the redirect');
  assert.equal(first.headers.get('location'), null);
  assert.equal(first.headers.get('docker-content-digest'), digest);
  assert.equal(first.headers.get('content-length'), String(bytes.length));
  assert.deepEqual(Buffer.from(await first.arrayBuffer()), bytes);

  const blobRequests = tokenUpstream.requests.filter((r) => r.kind === 'blob');
  assert.match(blobRequests.at(-1)?.authorization ?? '', /^Bearer /, 'the registry itself got the token');
  const cdnRequests = tokenUpstream.requests.filter((r) => r.kind === 'cdn');
  assert.equal(cdnRequests.length, 1);
  assert.equal(cdnRequests[0]?.authorization, undefined, 'no Authorization to another host');
  assert.equal(cdnRequests[0]?.path, `/cdn/${digest}?sig=abc`, 'the signed URL is used as given');

  tokenUpstream.resetCounts();
  const second = await fetch(`${mirror.url}/v2/redirected/blobs/${digest}`);
  assert.equal(second.status, 200);
  assert.deepEqual(Buffer.from(await second.arrayBuffer()), bytes);
  const head = await fetch(`${mirror.url}/v2/redirected/blobs/${digest}`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-length'), String(bytes.length));
  assert.equal(tokenUpstream.requests.length, 0, 'kept: neither the registry nor the CDN is asked again');
});

test('Basic credentials are not carried to the CDN either', async () => {
  const image = basicUpstream.addImage('team/redirected', 'v1', 50_000);
  const response = await fetch(`${mirror.url}/v2/internal/team/redirected/blobs/${image.layer}`);
  assert.equal(response.status, 200);
  assert.deepEqual(Buffer.from(await response.arrayBuffer()), basicUpstream.blobs.get(image.layer));
  const cdnRequests = basicUpstream.requests.filter((r) => r.kind === 'cdn');
  assert.equal(cdnRequests.length, 1);
  assert.equal(cdnRequests[0]?.authorization, undefined);
  const blobRequests = basicUpstream.requests.filter((r) => r.kind === 'blob');
  assert.match(blobRequests.at(-1)?.authorization ?? '', /^Basic /, 'the registry itself got the credentials');
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDigest } from '../../src/reference.ts';
import { secretMatches } from '../../src/replicas/replica-secret.ts';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror } from '../support/mirror.ts';

// The internal endpoint between replicas (issue 10) serves any blob being filled, so it answers only
// requests carrying the shared secret: without a configured secret it does not exist, and a missing or
// wrong secret gets 401 and no byte of the blob — while the right one streams the fill in flight.

const SECRET_ENV = 'PT_TEST_REPLICA_SECRET';
const SECRET = 'a-shared-replica-secret-0123456789';
const HEADER = 'x-pullthrough-replica-secret';

test('secretMatches: only the exact secret', () => {
  assert.equal(secretMatches(SECRET, SECRET), true);
  assert.equal(secretMatches(undefined, SECRET), false);
  assert.equal(secretMatches('', SECRET), false);
  assert.equal(secretMatches(SECRET.slice(0, -1), SECRET), false);
  assert.equal(secretMatches(`${SECRET}x`, SECRET), false);
  assert.equal(secretMatches(SECRET.toUpperCase(), SECRET), false);
});

test('the fill endpoint: 404 without a configured secret, 401 and no bytes with a missing or wrong one, the fill with the right one', async (t) => {
  const upstream = await new MemoryRegistry().start();
  process.env[SECRET_ENV] = SECRET;
  const withSecret = await startMirror({ hub: { url: upstream.url } }, { extra: { replicas: { secretEnv: SECRET_ENV, advertise: 'http://127.0.0.1:1' } } });
  const without = await startMirror({ hub: { url: upstream.url } });
  t.after(async () => {
    upstream.trickle = undefined;
    await withSecret.close();
    await without.close();
    await upstream.stop();
    delete process.env[SECRET_ENV];
  });
  upstream.addImage('team/app', '1.0');
  const blob = upstream.addRandomBlob(512 * 1024);
  const digest = parseDigest(blob.digest);
  assert.ok(digest);
  // A fill in flight on both mirrors: the upstream trickles, a client pulls.
  upstream.trickle = { chunk: 16 * 1024, delayMs: 20 };
  const pulls = [withSecret, without].map((mirror) => fetch(`${mirror.url}/v2/team/app/blobs/${blob.digest}`).then(async (r) => Buffer.from(await r.arrayBuffer())));
  const inFlight = async (mirror: typeof withSecret): Promise<string> => {
    for (;;) {
      const id = mirror.app.mirror.fills.get(digest)?.writeId;
      if (id) return id;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  const ask = (base: string, write: string, headers: Record<string, string> = {}): Promise<Response> =>
    fetch(`${base}/_internal/fills/${blob.digest}?write=${write}&offset=0`, { headers });

  const writeWithout = await inFlight(without);
  for (const headers of [{}, { [HEADER]: SECRET }] as Array<Record<string, string>>) {
    const response = await ask(without.url, writeWithout, headers);
    const body = Buffer.from(await response.arrayBuffer());
    assert.equal(response.status, 404, 'no secret configured: no endpoint');
    assert.equal(body.includes(blob.bytes.subarray(0, 64)), false);
  }

  const write = await inFlight(withSecret);
  for (const headers of [{}, { [HEADER]: '' }, { [HEADER]: 'wrong-secret-wrong-secret-wrong' }, { [HEADER]: SECRET.slice(0, -1) }, { authorization: `Bearer ${SECRET}` }] as Array<Record<string, string>>) {
    const response = await ask(withSecret.url, write, headers);
    const body = Buffer.from(await response.arrayBuffer());
    assert.equal(response.status, 401, `refused: ${JSON.stringify(headers)}`);
    assert.ok(body.length < 200 && !body.includes(blob.bytes.subarray(0, 64)), 'no blob bytes');
  }
  const other = await ask(withSecret.url, 'not-this-write', { [HEADER]: SECRET });
  await other.arrayBuffer();
  assert.equal(other.status, 404, 'only the write in flight');

  const served = await ask(withSecret.url, write, { [HEADER]: SECRET });
  assert.equal(served.status, 200);
  assert.deepEqual(Buffer.from(await served.arrayBuffer()), blob.bytes, 'the right secret streams the fill');
  for (const body of await Promise.all(pulls)) assert.deepEqual(body, blob.bytes);
});

test('config: a secret needs an advertised address, and short secrets are refused at start', async () => {
  const { parseConfig } = await import('../../src/config.ts');
  assert.throws(() => parseConfig({ upstreams: { hub: { url: 'http://127.0.0.1:1' } }, replicas: { secretEnv: SECRET_ENV } }), /advertise/);
  const { replicaSecret } = await import('../../src/replicas/replica-secret.ts');
  assert.equal(replicaSecret(undefined), undefined);
  assert.throws(() => replicaSecret({ secretEnv: 'X', advertise: 'http://a:1' }, { X: 'short' }), /at least 16/);
  assert.throws(() => replicaSecret({ secretEnv: 'X', advertise: 'http://a:1' }, {}), /not set/);
  assert.equal(replicaSecret({ secretEnv: 'X', advertise: 'http://a:1' }, { X: SECRET }), SECRET);
});

test('with client auth on, the endpoint answers replicas by their secret alone, and still refuses everyone else', async (t) => {
  const { mkdtemp, rm, writeFile } = await import('node:fs/promises');
  const os = await import('node:os');
  const path = await import('node:path');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pullthrough-replica-auth-'));
  const htpasswd = path.join(dir, 'htpasswd');
  // bcrypt cost 4 ("secret"): the account is never used, client auth just has to be on.
  await writeFile(htpasswd, 'someone:$2y$04$3yY9qQ0Qj7m7p8o0bW9fBOS2Gm8wq0cM3QpZB3lq0Wb9m7S4fQ6aW\n');
  const upstream = await new MemoryRegistry().start();
  process.env[SECRET_ENV] = SECRET;
  const mirror = await startMirror(
    { hub: { url: upstream.url } },
    { extra: { auth: { htpasswd }, replicas: { secretEnv: SECRET_ENV, advertise: 'http://127.0.0.1:1' } } },
  );
  t.after(async () => {
    await mirror.close();
    await upstream.stop();
    delete process.env[SECRET_ENV];
    await rm(dir, { recursive: true, force: true });
  });
  const digest = `sha256:${'0'.repeat(64)}`;
  const url = `${mirror.url}/_internal/fills/${digest}?write=nope&offset=0`;
  const stranger = await fetch(url);
  await stranger.arrayBuffer();
  assert.equal(stranger.status, 401, 'no secret: refused');
  const replica = await fetch(url, { headers: { [HEADER]: SECRET } });
  const body = (await replica.json()) as { errors: Array<{ code: string }> };
  assert.equal(replica.status, 404, 'the secret gets past client auth to the endpoint, which knows no such write');
  assert.equal(body.errors[0]?.code, 'BLOB_UNKNOWN');
  const blob = await fetch(`${mirror.url}/v2/team/app/blobs/${digest}`);
  await blob.arrayBuffer();
  assert.equal(blob.status, 401, 'the registry API still needs an account');
});

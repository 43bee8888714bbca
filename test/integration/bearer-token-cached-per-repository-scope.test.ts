import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

const passwordEnv = `PULLTHROUGH_TEST_PASSWORD_${randomBytes(6).toString('hex').toUpperCase()}`;
const password = `pw-${randomBytes(8).toString('hex')}`;

let upstream: MemoryRegistry;
let mirror: TestMirror;

before(async () => {
  process.env[passwordEnv] = password;
  upstream = await new MemoryRegistry({ tokenAuth: true, tokenCredentials: { username: 'alice', password } }).start();
  mirror = await startMirror({ hub: { url: upstream.url, defaultNamespace: 'library', username: 'alice', passwordEnv, public: true } });
});
after(async () => {
  await mirror.close();
  await upstream.stop();
  delete process.env[passwordEnv];
});

function tokenScopes(): Array<string | null> {
  return upstream.requests.filter((r) => r.kind === 'token').map((r) => new URL(r.path, upstream.url).searchParams.get('scope'));
}

async function pull(name: string, image: { digest: string; config: string; layer: string }, tag: string): Promise<void> {
  for (const path of [`manifests/${tag}`, `blobs/${image.config}`, `blobs/${image.layer}`]) {
    const response = await fetch(`${mirror.url}/v2/${name}/${path}`);
    assert.equal(response.status, 200, path);
    await response.arrayBuffer();
  }
}

test('one token per repository scope, reused for every request to that repository', async () => {
  const first = upstream.addImage('library/alpha', 'v1');
  const second = upstream.addImage('library/alpha', 'v2');
  const other = upstream.addImage('library/beta', 'v1');

  await pull('alpha', first, 'v1');
  await pull('alpha', second, 'v2');
  assert.equal(upstream.count({ method: 'GET', kind: 'blob' }), 4, 'every blob was really fetched upstream');
  assert.equal(upstream.count({ method: 'GET', kind: 'manifest' }), 3, 'the challenged GET, its retry, and v2');
  assert.deepEqual(tokenScopes(), ['repository:library/alpha:pull'], 'six upstream fetches cost one token request');

  await pull('beta', other, 'v1');
  assert.deepEqual(tokenScopes(), ['repository:library/alpha:pull', 'repository:library/beta:pull'], 'another repository gets its own token');
  const betaRequests = upstream.requests.filter((r) => r.kind !== 'token' && r.path.startsWith('/v2/library/beta/'));
  assert.equal(betaRequests.length, 3, 'the learned challenge lets the mirror authenticate up front: no 401 round trip');
  const betaToken = betaRequests[0]?.authorization;
  assert.match(betaToken ?? '', /^Bearer t-.*library\/beta/);
  assert.ok(betaRequests.every((r) => r.authorization === betaToken));

  upstream.resetCounts();
  const third = upstream.addImage('library/alpha', 'v3');
  await pull('alpha', third, 'v3');
  assert.equal(upstream.count({ kind: 'token' }), 0, 'back to the first repository: its token is still cached');
  assert.equal(upstream.requests.length, 3);
});

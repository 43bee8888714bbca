import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { type Account, basic, writeHtpasswdFile } from '../support/client-accounts.ts';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror } from '../support/mirror.ts';

// GET /v2/_catalog (issue 12, item 12) lists the cached repositories as clients address them
// (<upstream>/<repository>), paginated per the distribution spec (n, last, Link rel="next"), and only
// those the client may pull: with client auth a stranger is challenged; without it a private upstream's
// repositories (kept while auth was on) are left out of the catalog and the status page alike.

const passwordEnv = 'PULLTHROUGH_TEST_CATALOG_PASSWORD';
const carol: Account = { username: 'carol', password: 'carol-pw' };
let dir: string;
let hub: MemoryRegistry;
let corp: MemoryRegistry;

before(async () => {
  process.env[passwordEnv] = 'upstream-secret';
  dir = await mkdtemp(path.join(os.tmpdir(), 'pullthrough-catalog-'));
  await writeHtpasswdFile(path.join(dir, 'htpasswd'), [carol]);
  hub = await new MemoryRegistry().start();
  corp = await new MemoryRegistry({ basicAuth: { username: 'svc', password: 'upstream-secret' } }).start();
});
after(async () => {
  await hub.stop();
  await corp.stop();
  await rm(dir, { recursive: true, force: true });
});

const upstreams = (): Parameters<typeof startMirror>[0] => ({ hub: { url: hub.url }, corp: { url: corp.url, username: 'svc', passwordEnv } });
const storage = (): string => path.join(dir, 'store');

async function catalog(url: string, headers: Record<string, string> = {}): Promise<{ status: number; repositories: string[]; link: string | null }> {
  const response = await fetch(url, { headers });
  const body = (await response.json()) as { repositories?: string[] };
  return { status: response.status, repositories: body.repositories ?? [], link: response.headers.get('link') };
}

test('the catalog pages through cached repositories named <upstream>/<repository>; strangers are challenged', async () => {
  const mirror = await startMirror(upstreams(), { storage: storage(), keyv: 'configured', extra: { auth: { htpasswd: path.join(dir, 'htpasswd') } } });
  try {
    const auth = { authorization: basic(carol) };
    for (const name of ['team/b', 'team/a', 'team/c']) {
      hub.addImage(name, 'v1');
      assert.equal((await fetch(`${mirror.url}/v2/hub/${name}/manifests/v1`, { headers: auth })).status, 200);
    }
    corp.addImage('secret/app', 'v1');
    assert.equal((await fetch(`${mirror.url}/v2/corp/secret/app/manifests/v1`, { headers: auth })).status, 200);

    const stranger = await catalog(`${mirror.url}/v2/_catalog`);
    assert.equal(stranger.status, 401);
    assert.deepEqual(stranger.repositories, []);

    const all = await catalog(`${mirror.url}/v2/_catalog`, auth);
    assert.equal(all.status, 200);
    assert.deepEqual(all.repositories, ['corp/secret/app', 'hub/team/a', 'hub/team/b', 'hub/team/c']);
    assert.equal(all.link, null, 'everything fit: no next page');

    const first = await catalog(`${mirror.url}/v2/_catalog?n=2`, auth);
    assert.deepEqual(first.repositories, ['corp/secret/app', 'hub/team/a']);
    const next = /^<([^>]+)>; rel="next"$/.exec(first.link ?? '');
    assert.ok(next, `Link header: ${first.link}`);
    assert.match(next[1] as string, /^\/v2\/_catalog\?/);
    const second = await catalog(`${mirror.url}${next[1]}`, auth);
    assert.deepEqual(second.repositories, ['hub/team/b', 'hub/team/c']);
    assert.equal(second.link, null);
    assert.deepEqual((await catalog(`${mirror.url}/v2/_catalog?n=5&last=hub/team/c`, auth)).repositories, []);
    assert.equal((await fetch(`${mirror.url}/v2/_catalog?n=-1`, { headers: auth })).status, 400);

    // Under a mirror prefix: that upstream's repositories, named as that route addresses them.
    assert.deepEqual((await catalog(`${mirror.url}/hub/v2/_catalog`, auth)).repositories, ['team/a', 'team/b', 'team/c']);
  } finally {
    await mirror.close({ keepStorage: true });
  }
});

test('without client auth the catalog and the status page leave out the private upstream', async () => {
  const mirror = await startMirror(upstreams(), { storage: storage(), keyv: 'configured' });
  hub.resetCounts();
  corp.resetCounts();
  try {
    const all = await catalog(`${mirror.url}/v2/_catalog`);
    assert.equal(all.status, 200);
    assert.deepEqual(all.repositories, ['hub/team/a', 'hub/team/b', 'hub/team/c']);
    const page = await (await fetch(`${mirror.url}/`)).text();
    assert.match(page, /data-metric="cached-images"/);
    assert.match(page, /team\/a/);
    assert.doesNotMatch(page, /secret\/app/);
    assert.equal(corp.count() + hub.count(), 0, 'the catalog is answered from the index: no upstream request');
  } finally {
    await mirror.close();
  }
});

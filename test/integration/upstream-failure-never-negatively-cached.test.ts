import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

// Issue 13, item 5: only the upstream's own "does not exist" is remembered. An upstream that could not
// be reached, failed (5xx), limited us (429) or refused our credentials said nothing about existence.

let upstream: MemoryRegistry;
let locked: MemoryRegistry;
let mirror: TestMirror;

before(async () => {
  upstream = await new MemoryRegistry().start();
  locked = await new MemoryRegistry({ basicAuth: { username: 'u', password: 'right' } }).start();
  process.env.PULLTHROUGH_TEST_WRONG_PASSWORD = 'wrong';
  mirror = await startMirror({
    up: { url: upstream.url, negativeTtl: '1h' },
    locked: { url: locked.url, negativeTtl: '1h', aliases: ['locked'], username: 'u', passwordEnv: 'PULLTHROUGH_TEST_WRONG_PASSWORD', public: true },
  });
});
after(async () => {
  await mirror.close();
  await Promise.all([upstream.stop(), locked.stop()]);
});

for (const failure of [
  { status: 503, code: 'UNAVAILABLE' },
  { status: 500, code: 'UNAVAILABLE' },
  { status: 429, code: 'TOOMANYREQUESTS' },
]) {
  test(`upstream ${failure.status}: each request asks again, and the tag is served once the upstream answers`, async () => {
    const repository = `fail/app-${failure.status}`;
    upstream.failWith = { status: failure.status, headers: { 'retry-after': '1' } };
    upstream.resetCounts();
    try {
      for (let i = 0; i < 3; i++) {
        const response = await mirror.app.inject({ url: `/v2/${repository}/manifests/v1` });
        assert.equal(response.statusCode, failure.status === 500 ? 503 : failure.status);
        assert.equal((JSON.parse(response.body) as { errors: Array<{ code: string }> }).errors[0]?.code, failure.code);
      }
      // A 429 is not asked into again before its Retry-After (issue 15): one upstream request, then the
      // mirror answers 429 itself; 5xx are asked every time.
      assert.equal(upstream.count({ kind: 'manifest' }), failure.status === 429 ? 1 : 3);
    } finally {
      upstream.failWith = undefined;
    }
    if (failure.status === 429) await new Promise((resolve) => setTimeout(resolve, 1100));
    const image = upstream.addImage(repository, 'v1');
    const found = await mirror.app.inject({ url: `/v2/${repository}/manifests/v1` });
    assert.equal(found.statusCode, 200);
    assert.equal(found.headers['docker-content-digest'], image.digest);
  });
}

test('upstream unreachable: not remembered, the tag is served once the upstream is back', async () => {
  const image = upstream.addImage('fail/down', 'v1');
  await upstream.stop();
  try {
    const response = await mirror.app.inject({ url: '/v2/fail/down/manifests/v1' });
    assert.equal(response.statusCode, 503);
  } finally {
    await upstream.start();
  }
  const found = await mirror.app.inject({ url: '/v2/fail/down/manifests/v1' });
  assert.equal(found.statusCode, 200);
  assert.equal(found.headers['docker-content-digest'], image.digest);
});

test('credentials refused (Basic 401): not remembered, each request asks again', async () => {
  locked.resetCounts();
  assert.equal((await mirror.app.inject({ url: '/v2/locked/some/app/manifests/v1' })).statusCode, 404);
  const perRequest = locked.count({ kind: 'manifest' });
  assert.ok(perRequest > 0);
  for (let i = 0; i < 2; i++) assert.equal((await mirror.app.inject({ url: '/v2/locked/some/app/manifests/v1' })).statusCode, 404);
  assert.equal(locked.count({ kind: 'manifest' }), 3 * perRequest, 'the same upstream exchange every time');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TokenCache } from '../../src/upstream/token-cache.ts';

function deferredFetch() {
  let calls = 0;
  let release: (token: string) => void = () => {};
  const fetch = () => {
    calls += 1;
    return new Promise<{ token: string; expiresAt: number }>((resolve) => {
      release = (token) => resolve({ token, expiresAt: Date.now() + 300_000 });
    });
  };
  return { fetch, release: (token: string) => release(token), calls: () => calls };
}

test('two concurrent obtain calls for one scope run fetch once and share the token', async () => {
  const cache = new TokenCache();
  const upstream = deferredFetch();
  const first = cache.obtain('repository:library/ubuntu:pull', upstream.fetch);
  const second = cache.obtain('repository:library/ubuntu:pull', upstream.fetch);
  upstream.release('shared');
  assert.deepEqual(await Promise.all([first, second]), ['shared', 'shared']);
  assert.equal(upstream.calls(), 1);
});

test('different scopes fetch separately', async () => {
  const cache = new TokenCache();
  let calls = 0;
  const fetch = (token: string) => async () => {
    calls += 1;
    return { token, expiresAt: Date.now() + 300_000 };
  };
  const [a, b] = await Promise.all([cache.obtain('repository:a:pull', fetch('ta')), cache.obtain('repository:b:pull', fetch('tb'))]);
  assert.equal(a, 'ta');
  assert.equal(b, 'tb');
  assert.equal(calls, 2);
});

test('a failed fetch rejects every waiter and the next obtain tries again', async () => {
  const cache = new TokenCache();
  let calls = 0;
  const failing = async () => {
    calls += 1;
    throw new Error('token server down');
  };
  const results = await Promise.allSettled([cache.obtain('s', failing), cache.obtain('s', failing)]);
  assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected']);
  assert.equal(calls, 1);
  assert.equal(await cache.obtain('s', async () => ({ token: 'ok', expiresAt: Date.now() + 300_000 })), 'ok');
  assert.equal(cache.get('s'), 'ok');
});

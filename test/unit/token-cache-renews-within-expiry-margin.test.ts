import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TokenCache } from '../../src/upstream/token-cache.ts';

test('get returns the token until 10 s before its expiry', async () => {
  const cache = new TokenCache();
  const token = await cache.obtain('repository:a:pull', async () => ({ token: 't1', expiresAt: Date.now() + 60_000 }));
  assert.equal(token, 't1');
  const expiresAt = Date.now() + 60_000;
  await cache.obtain('repository:b:pull', async () => ({ token: 'tb', expiresAt }));
  assert.equal(cache.get('repository:b:pull', expiresAt - 10_001), 'tb');
  assert.equal(cache.get('repository:b:pull', expiresAt - 10_000), undefined, 'inside the margin the token is dropped');
  assert.equal(cache.get('repository:b:pull', expiresAt - 20_000), undefined, 'and stays dropped');
});

test('obtain fetches again when the cached token is within the margin', async () => {
  const cache = new TokenCache();
  let fetches = 0;
  const fetchToken = async () => {
    fetches += 1;
    return { token: `t${fetches}`, expiresAt: Date.now() + 5_000 };
  };
  assert.equal(await cache.obtain('s', fetchToken), 't1');
  assert.equal(await cache.obtain('s', fetchToken), 't2');
  assert.equal(fetches, 2);
});

test('obtain reuses a token well before its expiry', async () => {
  const cache = new TokenCache();
  let fetches = 0;
  const fetchToken = async () => {
    fetches += 1;
    return { token: `t${fetches}`, expiresAt: Date.now() + 300_000 };
  };
  assert.equal(await cache.obtain('s', fetchToken), 't1');
  assert.equal(await cache.obtain('s', fetchToken), 't1');
  assert.equal(fetches, 1);
});

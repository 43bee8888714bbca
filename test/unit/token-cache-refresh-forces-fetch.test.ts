import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TokenCache } from '../../src/upstream/token-cache.ts';

test('refresh fetches a new token even when a valid one is cached, and keeps it', async () => {
  const cache = new TokenCache();
  let fetches = 0;
  const fetch = async () => {
    fetches += 1;
    return { token: `t${fetches}`, expiresAt: Date.now() + 300_000 };
  };
  assert.equal(await cache.obtain('s', fetch), 't1');
  assert.equal(await cache.obtain('s', fetch, { refresh: true }), 't2');
  assert.equal(fetches, 2);
  assert.equal(await cache.obtain('s', fetch), 't2', 'the refreshed token replaces the old one');
  assert.equal(fetches, 2);
});

test('invalidate drops the cached token so the next obtain fetches', async () => {
  const cache = new TokenCache();
  let fetches = 0;
  const fetch = async () => {
    fetches += 1;
    return { token: `t${fetches}`, expiresAt: Date.now() + 300_000 };
  };
  await cache.obtain('s', fetch);
  cache.invalidate('s');
  assert.equal(cache.get('s'), undefined);
  assert.equal(await cache.obtain('s', fetch), 't2');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readRateLimit } from '../../src/upstream/rate-limit.ts';

test('100;w=21600 and 76;w=21600 become limit, remaining and window', () => {
  const view = readRateLimit({ 'ratelimit-limit': '100;w=21600', 'ratelimit-remaining': '76;w=21600' }, 1_700_000_000_000);
  assert.deepEqual(view, { limit: 100, remaining: 76, windowSeconds: 21_600, seenAt: 1_700_000_000_000 });
});

test('the window may come from either header and counts without a window are read', () => {
  assert.deepEqual(readRateLimit({ 'ratelimit-limit': '200', 'ratelimit-remaining': '0;w=3600' }, 5), { limit: 200, remaining: 0, windowSeconds: 3600, seenAt: 5 });
  assert.deepEqual(readRateLimit({ 'ratelimit-limit': '200', 'ratelimit-remaining': '199' }, 5), { limit: 200, remaining: 199, seenAt: 5 });
});

test('repeated header lines use the first value', () => {
  assert.deepEqual(readRateLimit({ 'ratelimit-limit': ['100;w=21600', '5'], 'ratelimit-remaining': ['99;w=21600'] }, 1), {
    limit: 100, remaining: 99, windowSeconds: 21_600, seenAt: 1,
  });
});

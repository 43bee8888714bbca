import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readRateLimit } from '../../src/upstream/rate-limit.ts';

test('no rate-limit headers is undefined', () => {
  assert.equal(readRateLimit({}), undefined);
  assert.equal(readRateLimit({ 'content-type': 'application/json' }), undefined);
});

test('one header without the other is undefined', () => {
  assert.equal(readRateLimit({ 'ratelimit-limit': '100;w=21600' }), undefined);
  assert.equal(readRateLimit({ 'ratelimit-remaining': '76;w=21600' }), undefined);
});

test('unparseable or empty values are undefined', () => {
  assert.equal(readRateLimit({ 'ratelimit-limit': 'lots', 'ratelimit-remaining': '1' }), undefined);
  assert.equal(readRateLimit({ 'ratelimit-limit': '', 'ratelimit-remaining': '1' }), undefined);
  assert.equal(readRateLimit({ 'ratelimit-limit': [], 'ratelimit-remaining': '1' }), undefined);
});

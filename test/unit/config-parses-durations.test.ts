import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config.ts';
import { assertProblem, configProblems, MINIMAL } from './support/config-problems.ts';

const withTtl = (tagTtl: string | number) => ({ ...MINIMAL, upstreams: { hub: { url: 'https://hub.example', tagTtl } } });

test('tagTtl durations become milliseconds', () => {
  assert.equal(parseConfig(withTtl('30s')).upstreams.hub?.tagTtl, 30_000);
  assert.equal(parseConfig(withTtl('5m')).upstreams.hub?.tagTtl, 300_000);
  assert.equal(parseConfig(withTtl('1h30m')).upstreams.hub?.tagTtl, 5_400_000);
  assert.equal(parseConfig(withTtl('250ms')).upstreams.hub?.tagTtl, 250);
});

test('a bare number is seconds', () => {
  assert.equal(parseConfig(withTtl(45)).upstreams.hub?.tagTtl, 45_000);
  assert.equal(parseConfig(withTtl('45')).upstreams.hub?.tagTtl, 45_000);
});

test('tagTtl defaults to 5m and timeouts to 10s / 30s', () => {
  const config = parseConfig(MINIMAL);
  assert.equal(config.upstreams.hub?.tagTtl, 300_000);
  assert.deepEqual(config.upstreamTimeouts, { connect: 10_000, idle: 30_000, minRate: 16 * 1024 });
});

test('upstreamTimeouts are parsed as durations', () => {
  const config = parseConfig({ ...MINIMAL, upstreamTimeouts: { connect: '2s', idle: '1m' } });
  assert.deepEqual(config.upstreamTimeouts, { connect: 2_000, idle: 60_000, minRate: 16 * 1024 });
});

test('upstreamTimeouts.minRate is a size per second, or 0 for no floor', () => {
  assert.equal(parseConfig({ ...MINIMAL, upstreamTimeouts: { minRate: '1MiB' } }).upstreamTimeouts.minRate, 1024 * 1024);
  assert.equal(parseConfig({ ...MINIMAL, upstreamTimeouts: { minRate: 0 } }).upstreamTimeouts.minRate, 0);
  assert.equal(parseConfig({ ...MINIMAL, upstreamTimeouts: { minRate: '0B' } }).upstreamTimeouts.minRate, 0);
  assertProblem(configProblems({ ...MINIMAL, upstreamTimeouts: { minRate: 'fast' } }), 'upstreamTimeouts.minRate');
});

test('a duration that does not parse is a problem naming its key', () => {
  assertProblem(configProblems(withTtl('soon')), 'upstreams.hub.tagTtl', 'soon');
  assertProblem(configProblems({ ...MINIMAL, upstreamTimeouts: { idle: '5 minutes' } }), 'upstreamTimeouts.idle');
});

test('a headers time-out longer than the request time-out is a problem, not a silent clamp', () => {
  assertProblem(configProblems({ ...MINIMAL, limits: { headersTimeout: '2m', requestTimeout: '1m' } }), 'limits.headersTimeout', 'requestTimeout');
});

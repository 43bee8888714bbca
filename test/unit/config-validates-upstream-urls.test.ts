import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config.ts';
import { assertProblem, configProblems, MINIMAL } from './support/config-problems.ts';

const withUrl = (url: string) => ({ ...MINIMAL, upstreams: { hub: { url } } });

test('non-URLs and non-http schemes are problems', () => {
  assertProblem(configProblems(withUrl('not a url')), 'upstreams.hub.url');
  assertProblem(configProblems(withUrl('ftp://hub.example')), 'upstreams.hub.url', 'http');
  assertProblem(configProblems(withUrl('file:///etc/passwd')), 'upstreams.hub.url');
});

test('plain http is allowed and trailing slashes are dropped', () => {
  assert.equal(parseConfig(withUrl('http://127.0.0.1:5001')).upstreams.hub?.url, 'http://127.0.0.1:5001');
  assert.equal(parseConfig(withUrl('https://hub.example//')).upstreams.hub?.url, 'https://hub.example');
});

test('upstream names must be lowercase letters, digits and dashes', () => {
  const raw = { ...MINIMAL, defaultUpstream: 'Hub_1', upstreams: { Hub_1: { url: 'https://hub.example' } } };
  assertProblem(configProblems(raw), 'upstreams', 'lowercase');
});

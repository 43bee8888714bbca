import { test } from 'node:test';
import { assertProblem, configProblems, MINIMAL } from './support/config-problems.ts';

test('a misspelt key names the key it most likely meant', () => {
  assertProblem(configProblems({ ...MINIMAL, storage: { path: '/x', maxsize: '1GiB' } }), 'storage.maxsize: unknown key', 'did you mean "maxSize"');
  assertProblem(configProblems({ ...MINIMAL, upstreams: { hub: { url: 'https://hub.example', tagTTL: '5m' } } }), 'upstreams.hub.tagTTL', 'did you mean "tagTtl"');
  assertProblem(configProblems({ ...MINIMAL, logLevl: 'debug' }), 'logLevl: unknown key', 'did you mean "logLevel"');
});

test('a key far from every known one lists what is known there instead', () => {
  assertProblem(configProblems({ ...MINIMAL, upstreamTimeouts: { read: '5s' } }), 'upstreamTimeouts.read: unknown key', 'known here: connect, idle, minRate');
});

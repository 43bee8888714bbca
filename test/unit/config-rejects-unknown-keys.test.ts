import { test } from 'node:test';
import { assertProblem, configProblems, MINIMAL } from './support/config-problems.ts';

test('unknown keys are problems at the root and in every section', () => {
  assertProblem(configProblems({ ...MINIMAL, colour: 'blue' }), 'colour: unknown key');
  assertProblem(configProblems({ ...MINIMAL, storage: { path: '/x', quota: '1GiB' } }), 'storage', 'quota');
  assertProblem(configProblems({ ...MINIMAL, upstreams: { hub: { url: 'https://hub.example', password: 'hunter2' } } }), 'upstreams.hub', 'password');
  assertProblem(configProblems({ ...MINIMAL, metadata: { redis: 'redis://x', db: 1 } }), 'metadata', 'db');
  assertProblem(configProblems({ ...MINIMAL, upstreamTimeouts: { read: '5s' } }), 'upstreamTimeouts', 'read');
});

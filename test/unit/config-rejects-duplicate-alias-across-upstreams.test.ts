import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config.ts';
import { assertProblem, configProblems, MINIMAL } from './support/config-problems.ts';

test('the same alias on two upstreams is a problem, whatever its case', () => {
  const problems = configProblems({
    ...MINIMAL,
    upstreams: { hub: { url: 'https://hub.example', aliases: ['cache.io'] }, other: { url: 'https://other.example', aliases: ['CACHE.io'] } },
  });
  assertProblem(problems, 'upstreams.other.aliases', 'routes to both', '"hub"', '"other"');
});

test("an alias equal to another upstream's URL host or name is a problem", () => {
  assertProblem(
    configProblems({ ...MINIMAL, upstreams: { hub: { url: 'https://hub.example' }, other: { url: 'https://other.example', aliases: ['hub.example'] } } }),
    'hub.example', 'routes to both',
  );
  assertProblem(
    configProblems({ ...MINIMAL, upstreams: { hub: { url: 'https://hub.example' }, other: { url: 'https://other.example', aliases: ['hub'] } } }),
    'routes to both',
  );
});

test("repeating an upstream's own URL host as its alias is fine", () => {
  const config = parseConfig({ ...MINIMAL, upstreams: { hub: { url: 'https://hub.example', aliases: ['hub.example', 'HUB.example'] } } });
  assert.deepEqual(config.upstreams.hub?.aliases, ['hub.example', 'HUB.example']);
});

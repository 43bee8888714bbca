import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertProblem, configProblems } from './support/config-problems.ts';

// DESIGN.md "Conventions": a bad config is one clear message listing every problem.
test('one ConfigError lists every problem of a config with many', () => {
  const problems = configProblems({
    listen: 'localhost',
    colour: 'blue',
    storage: { path: '/tmp/x' },
    defaultUpstream: 'nowhere',
    upstreams: {
      hub: { url: 'https://hub.example', aliases: ['mirror.example'] },
      other: { url: 'https://other.example', aliases: ['Mirror.Example'] },
      secret: { url: 'https://secret.example', passwordEnv: 'SECRET_TOKEN' },
      broken: { url: 'not a url' },
    },
  });
  assertProblem(problems, 'listen', 'localhost');
  assertProblem(problems, 'colour');
  assertProblem(problems, 'defaultUpstream', 'nowhere');
  assertProblem(problems, 'upstreams.broken.url');
  assertProblem(problems, 'Mirror.Example', 'hub', 'other');
  assertProblem(problems, 'upstreams.secret', 'username');
  assert.ok(problems.length >= 6, problems.join('\n'));
});

test('problems found without a bad URL are all listed too', () => {
  const problems = configProblems({
    listen: 'localhost',
    colour: 'blue',
    storage: { path: '/tmp/x' },
    defaultUpstream: 'nowhere',
    upstreams: {
      hub: { url: 'https://hub.example', aliases: ['mirror.example'] },
      other: { url: 'https://other.example', aliases: ['Mirror.Example'] },
      secret: { url: 'https://secret.example', passwordEnv: 'SECRET_TOKEN' },
    },
  });
  assertProblem(problems, 'listen', 'localhost');
  assertProblem(problems, 'colour');
  assertProblem(problems, 'defaultUpstream', 'nowhere');
  assertProblem(problems, 'Mirror.Example', 'hub', 'other');
  assertProblem(problems, 'upstreams.secret', 'username');
});

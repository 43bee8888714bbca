import { test } from 'node:test';
import { assertProblem, configProblems, MINIMAL } from './support/config-problems.ts';

test('defaultUpstream must name a configured upstream', () => {
  assertProblem(configProblems({ ...MINIMAL, defaultUpstream: 'dockerhub' }), 'defaultUpstream', '"dockerhub"');
});

test('defaultUpstream cannot be an alias: it names an upstream', () => {
  const raw = { ...MINIMAL, defaultUpstream: 'docker.io', upstreams: { hub: { url: 'https://hub.example', aliases: ['docker.io'] } } };
  assertProblem(configProblems(raw), 'defaultUpstream', 'docker.io');
});

test('no upstreams at all is a problem', () => {
  assertProblem(configProblems({ ...MINIMAL, upstreams: {} }), 'upstreams', 'at least one');
});

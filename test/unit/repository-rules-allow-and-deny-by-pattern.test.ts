import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../src/config.ts';
import { isRepositoryAllowed } from '../../src/repository-rules.ts';
import { assertProblem, configProblems, MINIMAL } from './support/config-problems.ts';

function upstreamWith(rules: { allow?: string[]; deny?: string[] }) {
  const config = parseConfig({ ...MINIMAL, upstreams: { hub: { url: 'https://hub.example', ...rules } } });
  return config.upstreams.hub as NonNullable<(typeof config.upstreams)['hub']>;
}

test('without rules every repository is served', () => {
  assert.ok(isRepositoryAllowed(upstreamWith({}), 'anyone/anything'));
});

test('allow: * is one segment, ** any number, exact names match themselves', () => {
  const upstream = upstreamWith({ allow: ['library/*', 'myorg/**', 'team/app'] });
  assert.ok(isRepositoryAllowed(upstream, 'library/alpine'));
  assert.ok(!isRepositoryAllowed(upstream, 'library/a/b'), '* does not cross a slash');
  assert.ok(isRepositoryAllowed(upstream, 'myorg/a'));
  assert.ok(isRepositoryAllowed(upstream, 'myorg/a/b/c'));
  assert.ok(!isRepositoryAllowed(upstream, 'myorg'), '** needs at least one segment');
  assert.ok(isRepositoryAllowed(upstream, 'team/app'));
  assert.ok(!isRepositoryAllowed(upstream, 'team/app2'));
  assert.ok(!isRepositoryAllowed(upstream, 'someone/else'));
});

test('deny wins over allow', () => {
  const upstream = upstreamWith({ allow: ['library/*'], deny: ['library/evil'] });
  assert.ok(isRepositoryAllowed(upstream, 'library/alpine'));
  assert.ok(!isRepositoryAllowed(upstream, 'library/evil'));
  assert.ok(!isRepositoryAllowed(upstreamWith({ deny: ['**'] }), 'library/alpine'));
});

test('a dot in a pattern is a dot, not any character', () => {
  assert.ok(!isRepositoryAllowed(upstreamWith({ allow: ['org/a.b'] }), 'org/axb'));
});

test('patterns that are not repository patterns are config problems', () => {
  assertProblem(configProblems({ ...MINIMAL, upstreams: { hub: { url: 'https://hub.example', allow: ['Library/*'] } } }), 'upstreams.hub.allow.0', 'repository pattern');
  assertProblem(configProblems({ ...MINIMAL, upstreams: { hub: { url: 'https://hub.example', deny: ['a/**b'] } } }), 'upstreams.hub.deny.0');
});

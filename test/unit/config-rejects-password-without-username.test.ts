import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config.ts';
import { assertProblem, configProblems, MINIMAL } from './support/config-problems.ts';

const withAuth = (auth: Record<string, string>) => ({ ...MINIMAL, upstreams: { hub: { url: 'https://hub.example', ...auth } } });

test('passwordEnv or passwordFile without username is a problem', () => {
  assertProblem(configProblems(withAuth({ passwordEnv: 'HUB_TOKEN' })), 'upstreams.hub', 'needs a username');
  assertProblem(configProblems(withAuth({ passwordFile: '/run/secrets/hub' })), 'upstreams.hub', 'needs a username');
});

test('both passwordEnv and passwordFile is a problem', () => {
  assertProblem(configProblems(withAuth({ username: 'me', passwordEnv: 'HUB_TOKEN', passwordFile: '/run/secrets/hub' })), 'upstreams.hub', 'not both');
});

test('username with one password source is accepted', () => {
  const hub = parseConfig(withAuth({ username: 'me', passwordEnv: 'HUB_TOKEN' })).upstreams.hub;
  assert.equal(hub?.username, 'me');
  assert.equal(hub?.passwordEnv, 'HUB_TOKEN');
});

import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../src/config.ts';
import { assertProblem, configProblems } from './support/config-problems.ts';

test('a config with one upstream and nothing else is complete: that upstream is the default, storage is ./data', () => {
  const config = parseConfig({ upstreams: { corp: { url: 'https://registry.corp.example' } } }, 'config', '/srv/mirror');
  assert.equal(config.defaultUpstream, 'corp');
  assert.equal(config.storage.path, path.resolve('/srv/mirror', 'data'));
  assert.equal(config.upstreams.corp?.defaultNamespace, undefined, 'library/ is for Docker Hub only');
});

test('with several upstreams and no defaultUpstream, the Docker Hub one is the default', () => {
  const config = parseConfig({ upstreams: { ghcr: { url: 'https://ghcr.io' }, hub: { url: 'https://registry-1.docker.io' } } });
  assert.equal(config.defaultUpstream, 'hub');
});

test('with several upstreams, none of them Docker Hub, defaultUpstream is required and the problem names the choices', () => {
  assertProblem(configProblems({ upstreams: { a: { url: 'https://a.example' }, b: { url: 'https://b.example' } } }), 'defaultUpstream', 'one of a, b');
});

test('an upstream that is Docker Hub by URL or alias gets defaultNamespace library unless it says otherwise', () => {
  const config = parseConfig({
    defaultUpstream: 'by-url',
    upstreams: {
      'by-url': { url: 'https://registry-1.docker.io' },
      'by-alias': { url: 'https://hub-mirror.corp.example', aliases: ['docker.io'] },
      own: { url: 'https://index.docker.io', aliases: ['idx'], defaultNamespace: 'acme' },
    },
  });
  assert.equal(config.upstreams['by-url']?.defaultNamespace, 'library');
  assert.equal(config.upstreams['by-alias']?.defaultNamespace, 'library');
  assert.equal(config.upstreams.own?.defaultNamespace, 'acme');
});

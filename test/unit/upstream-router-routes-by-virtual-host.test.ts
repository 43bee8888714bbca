import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../src/config.ts';
import { UpstreamRouter } from '../../src/routing.ts';
import { assertProblem, configProblems } from './support/config-problems.ts';
import { assertRegistryError } from './support/registry-error-assert.ts';

const config = parseConfig({
  virtualHosts: '*.cache.localhost',
  defaultUpstream: 'dockerhub',
  upstreams: {
    dockerhub: { url: 'https://registry-1.docker.io', aliases: ['docker.io'] },
    ghcr: { url: 'https://ghcr.io', aliases: ['ghcr.io'], hosts: ['containers.corp.example'] },
  },
});

test('a host listed by an upstream routes there, with or without a port, any case', () => {
  const router = new UpstreamRouter(config);
  for (const host of ['containers.corp.example', 'Containers.Corp.Example:5000']) {
    const target = router.route('owner/img', { host });
    assert.equal(target.upstream.name, 'ghcr', host);
    assert.equal(target.repository, 'owner/img');
  }
});

test('<alias>.<wildcard base> routes by its first label; the default upstream keeps library/', () => {
  const router = new UpstreamRouter(config);
  assert.equal(router.route('owner/img', { host: 'ghcr.cache.localhost:5000' }).upstream.name, 'ghcr');
  const hub = router.route('alpine', { host: 'dockerhub.cache.localhost' });
  assert.equal(hub.upstream.name, 'dockerhub');
  assert.equal(hub.repository, 'library/alpine');
});

test('an unknown label under the wildcard is NAME_UNKNOWN, never the default upstream or a host to contact', () => {
  const router = new UpstreamRouter(config);
  assertRegistryError(() => router.route('owner/img', { host: 'evil.cache.localhost' }), 'NAME_UNKNOWN');
  assertRegistryError(() => router.route('owner/img', { host: 'a.ghcr.cache.localhost' }), 'NAME_UNKNOWN');
});

test('other hosts (the mirror itself, an address) fall through to the usual routing; prefix and ns still win', () => {
  const router = new UpstreamRouter(config);
  assert.equal(router.route('ghcr.io/owner/img', { host: 'cache.localhost' }).upstream.name, 'ghcr');
  assert.equal(router.route('alpine', { host: '127.0.0.1:5000' }).upstream.name, 'dockerhub');
  assert.equal(router.route('owner/img', { host: 'ghcr.cache.localhost', prefix: 'dockerhub' }).upstream.name, 'dockerhub');
  assert.equal(router.route('owner/img', { host: 'ghcr.cache.localhost', ns: 'docker.io' }).upstream.name, 'dockerhub');
});

test('a virtual host claimed by two upstreams, or a bad wildcard, is a config problem', () => {
  assertProblem(
    configProblems({ upstreams: { a: { url: 'https://a.example', hosts: ['x.example'] }, b: { url: 'https://b.example', hosts: ['X.example'] } }, defaultUpstream: 'a' }),
    'upstreams.b.hosts', 'routes to both',
  );
  assertProblem(configProblems({ virtualHosts: 'cache.local', upstreams: { a: { url: 'https://a.example' } } }), 'virtualHosts', 'wildcard');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAuthChallenge } from '../../src/upstream/auth-challenge.ts';

test("Docker Hub's exact WWW-Authenticate header", () => {
  const header = 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/ubuntu:pull"';
  assert.deepEqual(parseAuthChallenge(header), {
    scheme: 'bearer',
    realm: 'https://auth.docker.io/token',
    service: 'registry.docker.io',
    scope: 'repository:library/ubuntu:pull',
  });
});

test('scheme and parameter names are case-insensitive; optional params may be absent', () => {
  assert.deepEqual(parseAuthChallenge('bearer Realm="https://ghcr.io/token"'), { scheme: 'bearer', realm: 'https://ghcr.io/token' });
  assert.deepEqual(parseAuthChallenge('BEARER realm="https://r/token", service="svc"'), { scheme: 'bearer', realm: 'https://r/token', service: 'svc' });
});

test('unquoted parameter values are read too', () => {
  assert.deepEqual(parseAuthChallenge('Bearer realm=https://r/token,service=svc'), { scheme: 'bearer', realm: 'https://r/token', service: 'svc' });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAuthChallenge } from '../../src/upstream/auth-challenge.ts';

test('unknown schemes are undefined', () => {
  assert.equal(parseAuthChallenge('Negotiate YIIBhwYJKoZIhvcSAQICAQBuggF2'), undefined);
  assert.equal(parseAuthChallenge('Digest realm="r", nonce="n"'), undefined);
  assert.equal(parseAuthChallenge('Bearerx realm="https://r/token"'), undefined);
});

test('a Bearer challenge without a realm is undefined (nowhere to get a token)', () => {
  assert.equal(parseAuthChallenge('Bearer service="registry.docker.io"'), undefined);
  assert.equal(parseAuthChallenge('Bearer realm=""'), undefined);
  assert.equal(parseAuthChallenge('Bearer'), undefined);
});

test('no header is undefined', () => {
  assert.equal(parseAuthChallenge(undefined), undefined);
  assert.equal(parseAuthChallenge(''), undefined);
});

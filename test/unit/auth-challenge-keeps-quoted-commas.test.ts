import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAuthChallenge } from '../../src/upstream/auth-challenge.ts';

test('commas inside a quoted scope stay in the scope', () => {
  const challenge = parseAuthChallenge('Bearer realm="https://auth.example/token",scope="repository:team/app:pull,push",service="reg"');
  assert.deepEqual(challenge, { scheme: 'bearer', realm: 'https://auth.example/token', scope: 'repository:team/app:pull,push', service: 'reg' });
});

test('space-separated scopes and escaped quotes survive', () => {
  const challenge = parseAuthChallenge('Bearer realm="https://a/t?x=\\"y\\"",scope="repository:a:pull repository:b:pull"');
  assert.deepEqual(challenge, { scheme: 'bearer', realm: 'https://a/t?x="y"', scope: 'repository:a:pull repository:b:pull' });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAuthChallenge } from '../../src/upstream/auth-challenge.ts';

test('Basic with a realm', () => {
  assert.deepEqual(parseAuthChallenge('Basic realm="Registry Realm"'), { scheme: 'basic', realm: 'Registry Realm' });
});

test('Basic without parameters', () => {
  assert.deepEqual(parseAuthChallenge('Basic'), { scheme: 'basic' });
  assert.deepEqual(parseAuthChallenge('basic charset="UTF-8"'), { scheme: 'basic' });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config.ts';
import { assertProblem, configProblems, MINIMAL } from './support/config-problems.ts';

test('listen values that are not host:port are problems', () => {
  for (const listen of ['localhost', ':5000', '127.0.0.1:', '127.0.0.1:65536', '127.0.0.1:http', '::1:5000', '127.0.0.1:123456']) {
    assertProblem(configProblems({ ...MINIMAL, listen }), 'listen', listen);
  }
});

test('valid listen values become host and port', () => {
  assert.deepEqual(parseConfig({ ...MINIMAL, listen: '0.0.0.0:5000' }).listen, { host: '0.0.0.0', port: 5000 });
  assert.deepEqual(parseConfig({ ...MINIMAL, listen: '[::1]:6000' }).listen, { host: '::1', port: 6000 });
  assert.deepEqual(parseConfig({ ...MINIMAL, listen: 'localhost:0' }).listen, { host: 'localhost', port: 0 });
  assert.deepEqual(parseConfig(MINIMAL).listen, { host: '127.0.0.1', port: 5000 });
});

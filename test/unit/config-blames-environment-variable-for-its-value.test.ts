import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, DEFAULT_CONFIG_PATH, loadConfig } from '../../src/config.ts';
import { assertProblem } from './support/config-problems.ts';

test('a bad value from an environment override names the variable, not the file', () => {
  try {
    loadConfig(DEFAULT_CONFIG_PATH, { PULLTHROUGH_LISTEN: 'nope', PULLTHROUGH_REDIS_URL: 'http://x' });
    assert.fail('expected a ConfigError');
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    assertProblem(error.problems, 'PULLTHROUGH_LISTEN (environment', 'got "nope"');
    assertProblem(error.problems, 'PULLTHROUGH_REDIS_URL (environment', 'metadata.redis');
    assert.equal(error.problems.length, 2, error.problems.join('\n'));
  }
});

test('a bad upstream URL is one problem, not two', () => {
  try {
    loadConfig(DEFAULT_CONFIG_PATH, { PULLTHROUGH_DEFAULT_UPSTREAM: 'nowhere' });
    assert.fail('expected a ConfigError');
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    assertProblem(error.problems, 'PULLTHROUGH_DEFAULT_UPSTREAM (environment', 'not one of the configured upstreams');
  }
});

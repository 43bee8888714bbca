// Runs parseConfig on input expected to be invalid and returns the ConfigError's problems.
import assert from 'node:assert/strict';
import { ConfigError, parseConfig } from '../../../src/config.ts';

export function configProblems(raw: unknown): string[] {
  try {
    parseConfig(raw);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    return error.problems;
  }
  assert.fail('expected the config to be rejected');
}

/** Asserts that some problem mentions every fragment given. */
export function assertProblem(problems: string[], ...fragments: string[]): void {
  assert.ok(
    problems.some((problem) => fragments.every((fragment) => problem.includes(fragment))),
    `no problem mentions ${fragments.map((f) => JSON.stringify(f)).join(' and ')}; got:\n${problems.join('\n')}`,
  );
}

export const MINIMAL = { storage: { path: '/tmp/pullthrough-test' }, defaultUpstream: 'hub', upstreams: { hub: { url: 'https://hub.example' } } };

// assert.throws matcher for a RegistryError with a given code.
import assert from 'node:assert/strict';
import { type ErrorCode, RegistryError } from '../../../src/errors.ts';

export function assertRegistryError(fn: () => unknown, code: ErrorCode, label?: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof RegistryError, `${label ?? ''} expected a RegistryError, got ${String(error)}`);
    assert.equal(error.code, code, label);
    return true;
  }, label);
}

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ERROR_CODES, type ErrorCode, isRegistryError, RegistryError } from '../../src/errors.ts';

// DESIGN.md "Errors", plus the spec's TAG_INVALID, a 416 for unsatisfiable ranges and the catalog's
// PAGINATION_NUMBER_INVALID.
const EXPECTED: Record<ErrorCode, number> = {
  BLOB_UNKNOWN: 404,
  MANIFEST_UNKNOWN: 404,
  NAME_UNKNOWN: 404,
  NAME_INVALID: 400,
  TAG_INVALID: 400,
  DIGEST_INVALID: 400,
  MANIFEST_INVALID: 400,
  RANGE_INVALID: 416,
  PAGINATION_NUMBER_INVALID: 400,
  UNAUTHORIZED: 401,
  DENIED: 403,
  UNSUPPORTED: 405,
  TOOMANYREQUESTS: 429,
  UNAVAILABLE: 503,
  UNKNOWN: 500,
};

test('every code has its status', () => {
  assert.deepEqual(Object.keys(ERROR_CODES).sort(), Object.keys(EXPECTED).sort());
  for (const [code, status] of Object.entries(EXPECTED) as Array<[ErrorCode, number]>) {
    const error = new RegistryError(code);
    assert.equal(error.status, status, code);
    assert.equal(error.code, code);
    assert.equal(error.message, ERROR_CODES[code].message);
    assert.ok(error.message.length > 0);
  }
});

test('isRegistryError tells RegistryErrors from other errors', () => {
  assert.equal(isRegistryError(new RegistryError('UNKNOWN')), true);
  assert.equal(isRegistryError(new Error('x')), false);
  assert.equal(isRegistryError({ code: 'UNKNOWN', status: 500 }), false);
});

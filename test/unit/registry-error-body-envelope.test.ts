import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RegistryError } from '../../src/errors.ts';

test('toBody is the spec envelope with code, message and detail', () => {
  const error = new RegistryError('MANIFEST_UNKNOWN', 'manifest unknown: latest', { detail: { tag: 'latest' } });
  assert.deepEqual(error.toBody(), { errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown: latest', detail: { tag: 'latest' } }] });
});

test('without a message the code\'s standard message is used; without detail there is no detail key', () => {
  const body = new RegistryError('BLOB_UNKNOWN').toBody();
  assert.deepEqual(body, { errors: [{ code: 'BLOB_UNKNOWN', message: 'blob unknown to registry' }] });
  assert.equal(Object.hasOwn(body.errors[0] ?? {}, 'detail'), false);
});

test('the body survives JSON round-tripping unchanged', () => {
  const body = new RegistryError('NAME_INVALID', undefined, { detail: { name: 'Bad' } }).toBody();
  assert.deepEqual(JSON.parse(JSON.stringify(body)), body);
});

test('the cause is kept on the error but never rendered into the body', () => {
  const cause = new Error('ECONNREFUSED 10.0.0.1:443 internal secret');
  const error = new RegistryError('UNAVAILABLE', undefined, { cause });
  assert.equal(error.cause, cause);
  assert.ok(!JSON.stringify(error.toBody()).includes('ECONNREFUSED'));
  assert.ok(error instanceof Error);
  assert.equal(error.name, 'RegistryError');
});

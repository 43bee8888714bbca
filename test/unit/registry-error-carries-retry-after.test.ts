import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RegistryError } from '../../src/errors.ts';

test('TOOMANYREQUESTS carries its Retry-After header and the upstream status', () => {
  const error = new RegistryError('TOOMANYREQUESTS', undefined, { headers: { 'retry-after': '120' }, upstreamStatus: 429 });
  assert.equal(error.status, 429);
  assert.deepEqual(error.headers, { 'retry-after': '120' });
  assert.equal(error.upstreamStatus, 429);
});

test('errors without extra headers have an empty header map', () => {
  const error = new RegistryError('NAME_UNKNOWN');
  assert.deepEqual(error.headers, {});
  assert.equal(error.upstreamStatus, undefined);
});

test('headers are not part of the body', () => {
  const body = new RegistryError('TOOMANYREQUESTS', undefined, { headers: { 'retry-after': '60' } }).toBody();
  assert.deepEqual(body, { errors: [{ code: 'TOOMANYREQUESTS', message: 'too many requests' }] });
});

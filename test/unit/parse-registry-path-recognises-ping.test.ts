import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRegistryPath } from '../../src/routing.ts';

test('/v2/ and /v2 are the ping endpoint without a prefix', () => {
  assert.deepEqual(parseRegistryPath('/v2/'), { endpoint: { kind: 'ping' } });
  assert.deepEqual(parseRegistryPath('/v2'), { endpoint: { kind: 'ping' } });
});

test('/<prefix>/v2/ and /<prefix>/v2 are the ping endpoint with that prefix', () => {
  assert.deepEqual(parseRegistryPath('/dockerhub/v2/'), { prefix: 'dockerhub', endpoint: { kind: 'ping' } });
  assert.deepEqual(parseRegistryPath('/ghcr.io/v2'), { prefix: 'ghcr.io', endpoint: { kind: 'ping' } });
});

test('paths that are not registry API paths are undefined', () => {
  for (const path of ['/', '/health', '/v1/', '/V2/', '/v2x/', '/a/b/v2/', '/metrics/v3/']) {
    assert.equal(parseRegistryPath(path), undefined, path);
  }
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRegistryPath } from '../../src/routing.ts';

// /v2/_catalog is the spec's catalog endpoint, not a repository named "_catalog" (issue 12).
test('_catalog parses as the catalog, with or without a mirror prefix', () => {
  assert.deepEqual(parseRegistryPath('/v2/_catalog'), { endpoint: { kind: 'catalog' } });
  assert.deepEqual(parseRegistryPath('/hub/v2/_catalog'), { prefix: 'hub', endpoint: { kind: 'catalog' } });
});

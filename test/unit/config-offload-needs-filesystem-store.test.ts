import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig, parseConfig } from '../../src/config.ts';

// serve.offload hands nginx a file under storage.path: meaningless for blobs kept in a bucket.

const upstreams = { hub: { url: 'https://registry.example' } };

test('serve.offload is off by default and names its internal location', () => {
  const config = parseConfig({ upstreams });
  assert.equal(config.serve.offload, false);
  assert.equal(config.serve.offloadLocation, '/_pullthrough/blobs/');
});

test('serve.offload with storage.s3 is refused with a pointer to storage.s3.redirect', () => {
  assert.throws(
    () => parseConfig({ upstreams, serve: { offload: true }, storage: { s3: { bucket: 'mirror-blobs' } } }),
    (error: unknown) => error instanceof ConfigError && error.problems.some((p) => p.startsWith('serve.offload:') && p.includes('storage.s3.redirect')),
  );
});

test('an offload location must be an absolute path ending in /', () => {
  for (const offloadLocation of ['_pullthrough/', '/_pullthrough', '/a b/']) {
    assert.throws(() => parseConfig({ upstreams, serve: { offload: true, offloadLocation } }), ConfigError, offloadLocation);
  }
});

test('PULLTHROUGH_OFFLOAD and PULLTHROUGH_WORKERS set serve.offload and workers', () => {
  const config = loadConfig('config/default.yaml', { PULLTHROUGH_OFFLOAD: 'true', PULLTHROUGH_WORKERS: 'auto' });
  assert.equal(config.serve.offload, true);
  assert.equal(config.workers, 'auto');
  assert.equal(loadConfig('config/default.yaml', { PULLTHROUGH_WORKERS: '3' }).workers, 3);
  assert.throws(() => loadConfig('config/default.yaml', { PULLTHROUGH_WORKERS: 'many' }), ConfigError);
  assert.equal(loadConfig('config/default.yaml', { PULLTHROUGH_OFFLOAD: '0' }).serve.offload, false);
  // A typo is an error naming the variable, not a silent false.
  assert.throws(
    () => loadConfig('config/default.yaml', { PULLTHROUGH_OFFLOAD: 'yes' }),
    (error: unknown) => error instanceof ConfigError && error.problems.some((p) => p.includes('PULLTHROUGH_OFFLOAD')),
  );
});

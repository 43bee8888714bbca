import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, parseConfig } from '../../src/config.ts';

// Issue 13, item 4: the `prefetch:` list takes image references or { image, platforms }, and a bad entry
// is named with a clear message, together with every other problem.

const base = { upstreams: { hub: { url: 'https://registry-1.docker.io', aliases: ['docker.io'] }, ghcr: { url: 'https://ghcr.io' } } };

test('strings and objects are accepted and normalised', () => {
  const digest = `sha256:${'a'.repeat(64)}`;
  const config = parseConfig({ ...base, prefetch: ['alpine:3.20', 'ghcr.io/owner/img:tag', `docker.io/library/busybox@${digest}`, { image: 'ubuntu:24.04', platforms: ['linux/amd64', 'linux/arm64/v8'] }] });
  assert.deepEqual(config.prefetch, [
    { image: 'alpine:3.20', platforms: [] },
    { image: 'ghcr.io/owner/img:tag', platforms: [] },
    { image: `docker.io/library/busybox@${digest}`, platforms: [] },
    { image: 'ubuntu:24.04', platforms: ['linux/amd64', 'linux/arm64/v8'] },
  ]);
  assert.deepEqual(parseConfig(base).prefetch, []);
  assert.deepEqual(parseConfig({ ...base, prefetch: null }).prefetch, []);
});

test('bad entries are each named in one error', () => {
  assert.throws(
    () => parseConfig({ ...base, prefetch: ['Not An Image', { image: 'alpine', platforms: ['amd64'] }, { image: 'alpine', platform: ['linux/amd64'] }, 'quay.io/x/y:1', 42] }),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      const text = error.problems.join('\n');
      assert.match(text, /prefetch\.0\.image: not an image name: "Not An Image"/);
      assert.match(text, /prefetch\.1\.platforms\.0: expected a platform such as linux\/arm64/);
      assert.match(text, /prefetch\.2\.platform: unknown key/);
      assert.match(text, /prefetch\.3: "quay\.io\/x\/y:1" names registry quay\.io, which is no configured upstream/);
      assert.match(text, /prefetch\.4: /);
      return true;
    },
  );
});

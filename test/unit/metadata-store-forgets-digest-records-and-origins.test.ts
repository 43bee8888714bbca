import assert from 'node:assert/strict';
import { test } from 'node:test';
import Keyv from 'keyv';
import pino from 'pino';
import { MetadataStore } from '../../src/metadata/metadata-store.ts';

// Issue 9, finding 13: what is known of a digest — each upstream's manifest record, the legacy
// per-digest record, its origins — goes when eviction forgets the digest; manifest records are per
// upstream, so one upstream's write never replaces another's.

const digest = 'sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';

test('forgetDigest removes the manifest records of every origin, the legacy record and the origins', async () => {
  const keyv = new Keyv();
  const metadata = new MetadataStore(keyv, pino({ level: 'silent' }));
  await keyv.set(`manifest:${digest}`, { mediaType: 'application/vnd.oci.image.manifest.v1+json' });
  await metadata.setManifest('hub', digest, { mediaType: 'application/vnd.docker.distribution.manifest.v2+json' });
  await metadata.setManifest('ghcr', digest, { mediaType: 'application/vnd.oci.image.index.v1+json' });
  await metadata.addOrigin(digest, 'hub');
  assert.deepEqual(await metadata.addOrigin(digest, 'ghcr'), ['hub', 'ghcr']);
  assert.deepEqual(await metadata.addOrigin(digest, 'hub'), ['hub', 'ghcr'], 'no duplicates');
  assert.equal((await metadata.getManifest('hub', digest))?.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
  assert.equal((await metadata.getManifest('ghcr', digest))?.mediaType, 'application/vnd.oci.image.index.v1+json');

  await metadata.forgetDigest(digest);
  assert.equal(await metadata.getManifest('hub', digest), undefined);
  assert.equal(await metadata.getManifest('ghcr', digest), undefined);
  assert.equal(await metadata.getLegacyManifest(digest), undefined);
  assert.equal(await metadata.getOrigins(digest), undefined);
  assert.equal(await keyv.get(`upstream-manifest:hub:${digest}`), undefined, 'gone from the backend too');
});

test('tag records, and the catalog index entries written with them (issue 12), expire after metadata.tagRecordTtl', async () => {
  const written: Array<{ key: string; ttl: number | undefined }> = [];
  const keyv = new Keyv();
  const set = keyv.set.bind(keyv);
  keyv.set = (async (key: string, value: unknown, ttl?: number) => {
    written.push({ key, ttl });
    return set(key, value, ttl);
  }) as typeof keyv.set;
  const metadata = new MetadataStore(keyv, pino({ level: 'silent' }), { tagRecordTtl: 86_400_000 });
  await metadata.setTag('hub', 'library/alpine', '3', { digest, mediaType: 'x', size: 1, checkedAt: 0 });
  assert.deepEqual(written, [
    { key: 'tag:hub:library/alpine:3', ttl: 86_400_000 },
    { key: 'catalog-tags:hub:library/alpine', ttl: 86_400_000 },
    { key: 'catalog:hub', ttl: 86_400_000 },
  ]);
});

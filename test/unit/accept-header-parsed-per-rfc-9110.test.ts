import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultPlatformManifest, parseAccept } from '../../src/cache/accept-negotiation.ts';
import { DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST_V1_SIGNED, OCI_INDEX, OCI_MANIFEST } from '../../src/manifest-media-types.ts';

const ALL = [OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST, DOCKER_MANIFEST_V1_SIGNED];

function accepted(header: string | string[] | undefined): string[] {
  const accept = parseAccept(header);
  return ALL.filter((type) => accept.accepts(type));
}

test('no Accept, an empty one, or only unparseable ranges accept every manifest type', () => {
  assert.deepEqual(accepted(undefined), ALL);
  assert.deepEqual(accepted(''), ALL);
  assert.deepEqual(accepted([]), ALL);
  assert.deepEqual(accepted('  ,  '), ALL);
});

test('*/* and application/* accept everything (containerd sends its type plus */*)', () => {
  assert.deepEqual(accepted(`${OCI_MANIFEST}, */*`), ALL);
  assert.deepEqual(accepted('application/*'), ALL);
});

test('several header lines and comma lists are one list (docker sends 6 separate lines)', () => {
  assert.deepEqual(accepted([DOCKER_MANIFEST, `${OCI_MANIFEST},${DOCKER_MANIFEST_LIST}`]), [OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST]);
});

test('only Docker schema 2 accepts only Docker schema 2', () => {
  assert.deepEqual(accepted(DOCKER_MANIFEST), [DOCKER_MANIFEST]);
});

test('media types and parameters: case-insensitive type, parameters and whitespace ignored, q read', () => {
  assert.deepEqual(accepted(`  ${DOCKER_MANIFEST.toUpperCase()} ; charset=utf-8 ; q=0.5 `), [DOCKER_MANIFEST]);
  assert.deepEqual(accepted(`${OCI_INDEX};Q=1.0`), [OCI_INDEX]);
});

test('q=0 excludes a type, also against a wildcard; the most specific range decides', () => {
  assert.deepEqual(accepted(`*/*, ${OCI_INDEX};q=0`), ALL.filter((t) => t !== OCI_INDEX));
  assert.deepEqual(accepted(`*/*;q=0, ${OCI_MANIFEST}`), [OCI_MANIFEST]);
  assert.deepEqual(accepted(`application/*;q=0.000, ${DOCKER_MANIFEST};q=0.1`), [DOCKER_MANIFEST]);
  assert.deepEqual(accepted(`${DOCKER_MANIFEST};q=0`), [], 'everything it named is excluded: nothing is acceptable');
});

test('a bad q value or a malformed range is ignored, not fatal', () => {
  assert.deepEqual(accepted(`${DOCKER_MANIFEST};q=2, ${OCI_MANIFEST};q=abc, nonsense, ${OCI_INDEX}`), [OCI_INDEX]);
});

test('application/json does not stand for the +json manifest types', () => {
  assert.deepEqual(accepted('application/json'), []);
});

test('the default platform entry of an index: linux/amd64, first match, variant ignored', () => {
  const index = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: [
      { mediaType: OCI_MANIFEST, digest: `sha256:${'1'.repeat(64)}`, size: 10, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
      { mediaType: OCI_MANIFEST, digest: `sha256:${'2'.repeat(64)}`, size: 11, platform: { os: 'linux', architecture: 'amd64' } },
      { mediaType: OCI_MANIFEST, digest: `sha256:${'3'.repeat(64)}`, size: 12, platform: { os: 'linux', architecture: 'amd64' } },
      { mediaType: OCI_MANIFEST, digest: `sha256:${'4'.repeat(64)}`, size: 13, platform: { os: 'unknown', architecture: 'unknown' } },
    ],
  }));
  assert.deepEqual(defaultPlatformManifest(index), { mediaType: OCI_MANIFEST, digest: `sha256:${'2'.repeat(64)}` });
});

test('an index without linux/amd64, or not an index at all, has no default platform entry', () => {
  const armOnly = { schemaVersion: 2, manifests: [{ mediaType: OCI_MANIFEST, digest: `sha256:${'1'.repeat(64)}`, size: 1, platform: { os: 'linux', architecture: 'arm64' } }] };
  assert.equal(defaultPlatformManifest(Buffer.from(JSON.stringify(armOnly))), undefined);
  assert.equal(defaultPlatformManifest(Buffer.from('not json')), undefined);
  assert.equal(defaultPlatformManifest(Buffer.from('{"manifests":[{"platform":{"os":"linux","architecture":"amd64"},"digest":"nope"}]}')), undefined);
});

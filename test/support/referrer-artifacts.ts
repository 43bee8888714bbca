// OCI 1.1 artifacts that refer to an image (signatures, SBOMs, attestations), built in a MemoryRegistry
// the way cosign, notation and oras push them: an image manifest with `artifactType`, the empty config,
// one layer (the signature or document) and a `subject` naming the image it is about.

import { createHash } from 'node:crypto';
import type { MemoryRegistry } from './memory-registry.ts';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const COSIGN_SIGNATURE = 'application/vnd.dev.cosign.artifact.sig.v1+json';
export const NOTATION_SIGNATURE = 'application/vnd.cncf.notary.signature';
export const SPDX_SBOM = 'application/spdx+json';
const EMPTY_CONFIG = { mediaType: 'application/vnd.oci.empty.v1+json', digest: `sha256:${createHash('sha256').update('{}').digest('hex')}`, size: 2 };

export interface ReferrerArtifact {
  digest: string;
  bytes: Buffer;
  layer: string;
  layerBytes: Buffer;
}

/**
 * Adds an artifact of `artifactType` whose subject is `subject` (a manifest of `repository`): its layer,
 * its manifest (by digest only, as the referrers API is how it is found) and its referrers entry.
 */
export function addReferrerArtifact(registry: MemoryRegistry, repository: string, subject: { digest: string; size: number }, artifactType: string, content = `${artifactType} ${Math.random()}`): ReferrerArtifact {
  registry.addBlob(Buffer.from('{}'));
  const layerBytes = Buffer.from(content);
  const layer = registry.addBlob(layerBytes);
  const body = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType,
    config: EMPTY_CONFIG,
    layers: [{ mediaType: artifactType, digest: layer, size: layerBytes.length }],
    subject: { mediaType: 'application/vnd.docker.distribution.manifest.v2+json', digest: subject.digest, size: subject.size },
    annotations: { 'org.opencontainers.image.created': '2026-12-01T00:00:00Z' },
  };
  const manifest = registry.putManifest(repository, undefined, OCI_MANIFEST, Buffer.from(JSON.stringify(body)));
  registry.addReferrer(repository, subject.digest, { mediaType: OCI_MANIFEST, digest: manifest.digest, size: manifest.bytes.length, artifactType });
  return { digest: manifest.digest, bytes: manifest.bytes, layer, layerBytes };
}

export interface ReferrersIndex {
  schemaVersion: number;
  mediaType?: string;
  manifests: Array<{ mediaType: string; digest: string; size: number; artifactType?: string }>;
}

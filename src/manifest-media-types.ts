// Manifest media types the mirror asks upstreams for and recognises (OCI image-spec, Docker image
// manifest v2). Upstreams are always asked with the same full list, so the cached answer for a tag is the
// one any modern client gets (a multi-arch index where there is one) and revalidation HEADs compare like
// with like.

export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const DOCKER_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_MANIFEST_V1_SIGNED = 'application/vnd.docker.distribution.manifest.v1+prettyjws';

export const UPSTREAM_MANIFEST_ACCEPT = [OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST].join(', ');

/** The media type a manifest declares in its body, for when no Content-Type is known. */
export function sniffManifestMediaType(bytes: Buffer): string {
  try {
    const parsed = JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown; manifests?: unknown; schemaVersion?: unknown };
    if (typeof parsed.mediaType === 'string' && parsed.mediaType !== '') return parsed.mediaType;
    if (parsed.schemaVersion === 1) return DOCKER_MANIFEST_V1_SIGNED;
    return Array.isArray(parsed.manifests) ? OCI_INDEX : OCI_MANIFEST;
  } catch {
    return OCI_MANIFEST;
  }
}

// Manifest media types the mirror asks upstreams for and serves (OCI image-spec, Docker image manifest
// v2, and the legacy signed v1 some old registries still answer with). Upstreams are always asked with
// the same full list, so the cached answer for a tag is the one any modern client gets (a multi-arch
// index where there is one) and revalidation HEADs compare like with like.
//
// Issue 9: an upstream's Content-Type is a claim. A manifest is served only with one of these types, as
// the upstream that served it said; anything else (text/html, application/json, none) is refused and
// never guessed from the body.

export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const DOCKER_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_MANIFEST_V1_SIGNED = 'application/vnd.docker.distribution.manifest.v1+prettyjws';

export const UPSTREAM_MANIFEST_ACCEPT = [OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST].join(', ');

const KNOWN_MANIFEST_TYPES: ReadonlySet<string> = new Set([OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST, DOCKER_MANIFEST_V1_SIGNED]);

/**
 * The known manifest media type a Content-Type names (parameters such as `; charset=utf-8` dropped,
 * case ignored), or undefined when it names none of them.
 */
export function knownManifestType(contentType: string | undefined): string | undefined {
  const type = contentType?.split(';', 1)[0]?.trim().toLowerCase();
  return type !== undefined && KNOWN_MANIFEST_TYPES.has(type) ? type : undefined;
}

/** An image index or manifest list: a manifest that points at other manifests, one per platform. */
export function isIndexType(mediaType: string): boolean {
  return mediaType === OCI_INDEX || mediaType === DOCKER_MANIFEST_LIST;
}

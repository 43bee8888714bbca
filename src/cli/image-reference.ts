// Image names as people write them (`ubuntu`, `ghcr.io/owner/img:1.2`, `quay.io/x/y@sha256:...`), mapped
// onto the mirror's own API so a prefetch goes through exactly the routing rules a client pull does: a
// registry host becomes `?ns=<host>` (as containerd sends it), anything else goes to the default
// upstream, where `dockerhub/ubuntu`-style alias prefixes keep working.

import { UsageError } from './exit-codes.ts';

export interface ImageReference {
  /** Registry host named in the image, if any (`ghcr.io`, `localhost:5000`). */
  registry: string | undefined;
  repository: string;
  /** A tag or a digest. */
  reference: string;
  /** As the user wrote it, for messages. */
  text: string;
}

export function parseImageReference(text: string): ImageReference {
  let rest = text.trim();
  let reference = 'latest';
  const at = rest.indexOf('@');
  if (at >= 0) {
    reference = rest.slice(at + 1);
    rest = rest.slice(0, at);
    // A tag before the digest is informational only (name:tag@digest): the digest wins.
    const colon = rest.lastIndexOf(':');
    if (colon > rest.lastIndexOf('/')) rest = rest.slice(0, colon);
  } else {
    const colon = rest.lastIndexOf(':');
    if (colon > rest.lastIndexOf('/')) {
      reference = rest.slice(colon + 1);
      rest = rest.slice(0, colon);
    }
  }
  const slash = rest.indexOf('/');
  const first = slash >= 0 ? rest.slice(0, slash) : '';
  // Docker's rule: the first component is a registry host if it has a dot or a port, or is localhost.
  const isHost = slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost');
  const registry = isHost ? first : undefined;
  const repository = isHost ? rest.slice(slash + 1) : rest;
  if (!/^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/.test(repository)) {
    throw new UsageError(`not an image name: "${text}"`);
  }
  if (!/^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/.test(reference) && !/^[a-z0-9]+:[a-f0-9]{32,}$/.test(reference)) {
    throw new UsageError(`not a tag or digest in "${text}"`);
  }
  return { registry, repository, reference, text };
}

/** The mirror URL of a manifest or blob of this image. */
export function mirrorUrl(base: string, image: ImageReference, kind: 'manifests' | 'blobs', reference: string): string {
  const query = image.registry ? `?ns=${encodeURIComponent(image.registry)}` : '';
  return `${base.replace(/\/+$/, '')}/v2/${image.repository}/${kind}/${reference}${query}`;
}

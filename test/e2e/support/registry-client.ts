import { createHash } from 'node:crypto';
import type { UpstreamRegistry } from './upstream-registry.ts';

/** Every manifest type a client may get, as dockerd asks for them. */
export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

export interface FetchedManifest {
  /** sha256 of the exact bytes, which the test checks against Docker-Content-Digest. */
  digest: string;
  mediaType: string;
  body: Buffer;
}

export function sha256Digest(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/**
 * Authorization for a direct request to the upstream registry, without an HTTP token dance (so the token
 * server's count is not touched): a token is minted in-process with push rights.
 */
function authHeader(registry: UpstreamRegistry, name: string): Record<string, string> {
  if (registry.auth === 'token' && registry.tokenServer !== undefined) {
    const token = registry.tokenServer.issue([`repository:${name}:pull,push,delete`], registry.credentials.username);
    return { authorization: `Bearer ${token}` };
  }
  if (registry.auth === 'basic') {
    const { username, password } = registry.credentials;
    return { authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` };
  }
  return {};
}

/**
 * GETs a manifest straight from the registry (not through the counting proxy), so it costs no counted
 * request. The digest is computed from the bytes and checked against the registry's own header.
 */
export async function fetchManifestDirect(registry: UpstreamRegistry, name: string, reference: string): Promise<FetchedManifest> {
  const res = await fetch(`${registry.directUrl}/v2/${name}/manifests/${reference}`, {
    headers: { accept: MANIFEST_ACCEPT, ...authHeader(registry, name) },
  });
  const body = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200) throw new Error(`GET manifest ${name}:${reference}: ${res.status} ${body.toString('utf8')}`);
  const digest = sha256Digest(body);
  const header = res.headers.get('docker-content-digest');
  if (header !== null && header !== digest) throw new Error(`registry says ${header}, bytes hash to ${digest}`);
  return { digest, mediaType: res.headers.get('content-type') ?? '', body };
}

/** Deletes a manifest by digest directly on the registry, e.g. to make an upstream tag disappear. */
export async function deleteManifestDirect(registry: UpstreamRegistry, name: string, digest: string): Promise<void> {
  const res = await fetch(`${registry.directUrl}/v2/${name}/manifests/${digest}`, {
    method: 'DELETE',
    headers: authHeader(registry, name),
  });
  await res.arrayBuffer();
  if (res.status !== 202) throw new Error(`DELETE manifest ${name}@${digest}: ${res.status}`);
}

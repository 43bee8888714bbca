// Redirects for kept blobs (issue 10, storage.s3.redirect): instead of streaming a kept blob through the
// mirror, a GET may be answered with 307 to a short-lived presigned URL of the object, so the bytes go
// from the object store to the client directly. Opt-in, because clients must then reach the bucket (the
// most common complaint about distribution is a default redirect clients cannot follow).
//
// The redirector belongs to the config the store was opened for, not to the BlobStore interface: the
// mirror wraps its store (observability), and a redirect is a way of serving, not of keeping.

import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { Digest } from '../reference.ts';

export interface BlobRedirector {
  /** A presigned URL for the kept blob; undefined when it is not kept (then it must be streamed). */
  presignedUrl(digest: Digest): Promise<string | undefined>;
}

const redirectors = new WeakMap<Config, BlobRedirector>();

/** Called by openBlobStore for a store opened with storage.s3.redirect. */
export function registerBlobRedirector(config: Config, redirector: BlobRedirector): void {
  redirectors.set(config, redirector);
}

/**
 * Where to send a GET of a kept blob, if this mirror redirects (storage.s3.redirect); undefined means
 * stream it. Any failure to presign is logged and answered by streaming: a redirect is an optimisation.
 */
export async function blobRedirect(config: Config, digest: Digest, log: Logger): Promise<string | undefined> {
  const redirector = redirectors.get(config);
  if (!redirector) return undefined;
  try {
    return await redirector.presignedUrl(digest);
  } catch (error) {
    log.warn({ err: error, digest: digest.text }, 'presigning a blob redirect failed, streaming it instead');
    return undefined;
  }
}

// Kernel offload of kept blobs (issue 11, serve.offload): with nginx in front (config/nginx-offload.conf),
// a GET of a kept blob is answered — after routing, auth, provenance and LRU bookkeeping, which stay in
// the mirror — with an empty 200 carrying X-Accel-Redirect to an internal nginx location that maps onto
// <storage.path>/blobs; nginx then sends the file itself with sendfile(2), Range included. Node cannot hand a
// file to a socket without copying it through user space, so this is how big layers go at disk speed.
//
// Offered only when both sides agree: the config asks for it, and the request came through an nginx that
// says it can take the hand-off (X-Pullthrough-Offload: 1, set by proxy_set_header). A client reaching the
// mirror directly — or one that sends the header itself — gets at worst an empty answer it asked for;
// everyone else is streamed as before. Like the S3 redirect (blob-redirect.ts) this belongs to the
// config the store was opened with: the mirror wraps its store, and offloading is a way of serving.

import type { FastifyRequest } from 'fastify';
import type { Config } from '../config.ts';
import type { Digest } from '../reference.ts';

export const OFFLOAD_REQUEST_HEADER = 'x-pullthrough-offload';

export interface BlobOffloader {
  /** A kept blob's file relative to the directory nginx serves (`/`-separated). */
  offloadPath(digest: Digest): string;
}

const offloaders = new WeakMap<Config, BlobOffloader>();

/** Called by openBlobStore for a filesystem store opened with serve.offload. */
export function registerBlobOffloader(config: Config, offloader: BlobOffloader): void {
  offloaders.set(config, offloader);
}

/**
 * The X-Accel-Redirect target for a GET of a kept blob, when this mirror offloads and the request came
 * through a front that can take it; undefined means stream it.
 */
export async function blobOffloadTarget(config: Config, request: FastifyRequest, digest: Digest): Promise<string | undefined> {
  if (!config.serve.offload || request.headers[OFFLOAD_REQUEST_HEADER] !== '1') return undefined;
  const path = offloaders.get(config)?.offloadPath(digest);
  return path === undefined ? undefined : `${config.serve.offloadLocation}${path}`;
}

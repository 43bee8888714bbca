// Which blob store the config asks for, made once here for the server and the CLI: the one place that
// hands `storage.path` to a store (issue 10). Today that is always the filesystem store.

import type { Config } from '../config.ts';
import type { BlobStore } from './blob-store.ts';
import { FilesystemBlobStore } from './filesystem-blob-store.ts';

/**
 * The store a server uses. With `sharedWithReplicas` (Redis configured: other replicas may use the same
 * store) start-up leaves recent writes in flight alone, since they may be other replicas' fills.
 */
export async function openBlobStore(config: Config, options: { sharedWithReplicas?: boolean } = {}): Promise<BlobStore> {
  return FilesystemBlobStore.open(config.storage.path, options);
}

/** The store of a running mirror, for another process (the CLI's gc and verify): touches no write in flight. */
export async function attachBlobStore(config: Config): Promise<BlobStore> {
  return FilesystemBlobStore.attach(config.storage.path);
}

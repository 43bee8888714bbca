import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FilesystemBlobStore } from '../../src/storage/filesystem-blob-store.ts';
import { blobStoreContract } from '../support/blob-store-contract.ts';

blobStoreContract('the filesystem store', async (t) => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'pullthrough-fs-store-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  return FilesystemBlobStore.open(root);
});

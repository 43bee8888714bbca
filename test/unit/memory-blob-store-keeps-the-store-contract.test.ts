import { MemoryBlobStore } from '../../src/storage/memory-blob-store.ts';
import { blobStoreContract } from '../support/blob-store-contract.ts';

blobStoreContract('the in-memory store', async () => new MemoryBlobStore());

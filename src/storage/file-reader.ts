// Random access to a local file as an InFlightReader: how followers read a write in flight from its
// local copy (the filesystem store's temp file, the S3 store's scratch copy).

import type { FileHandle } from 'node:fs/promises';
import type { InFlightReader } from './blob-store.ts';

export function fileReader(handle: FileHandle): InFlightReader {
  return {
    size: async () => (await handle.stat()).size,
    read: async (position, length) => {
      const buffer = Buffer.allocUnsafe(length);
      const { bytesRead } = await handle.read(buffer, 0, length, position);
      return bytesRead === length ? buffer : buffer.subarray(0, bytesRead);
    },
    close: () => handle.close(),
  };
}

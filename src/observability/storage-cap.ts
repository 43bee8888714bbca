// The blob store's size cap, if the config has one. `storage.maxSize` belongs to eviction (issue 5,
// "Never fills the disk"), which may not be configured or even present: read it defensively, as bytes.

import type { Config } from '../config.ts';
import { parseByteSize } from './byte-size.ts';

export function storageCap(config: Config): number | undefined {
  const storage: Readonly<Record<string, unknown>> = config.storage;
  const value = storage.maxSize;
  if (typeof value === 'number' && Number.isFinite(value) && value > 0) return value;
  if (typeof value === 'string') return parseByteSize(value);
  return undefined;
}

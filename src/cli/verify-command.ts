// `pullthrough verify`: re-hashes every kept blob against its name (the digest) and removes the ones that
// no longer match — bit rot, a disk that lied, a hand edit. A removed blob is simply fetched again on
// the next pull. Safe next to a running mirror: kept blobs are immutable, fills stay writes in flight
// until verified, and an open reader keeps reading a removed blob.

import { createHash } from 'node:crypto';
import { parseArgs } from 'node:util';
import { formatBytes } from '../observability/byte-size.ts';
import type { Digest } from '../reference.ts';
import { type BlobStore, isNotKept } from '../storage/blob-store.ts';
import { attachBlobStore } from '../storage/open-blob-store.ts';
import { configFile, loadCheckedConfig } from './cli-config.ts';
import { EXIT } from './exit-codes.ts';

export const VERIFY_HELP = `Usage: pullthrough verify [options]

Re-hashes every blob and manifest in the store and removes those whose content no longer matches their
digest (they are fetched again on the next pull). Lists each corrupt blob on stdout.

Options:
  -n, --dry-run       report corrupt blobs, remove nothing
      --json          print the report as JSON
  -c, --config FILE   configuration file
  -h, --help          show this help

Exit status: 0 every blob verified, 1 failure, 2 usage or config error, 3 corrupt blobs found.`;

export async function verifyCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      'dry-run': { type: 'boolean', short: 'n' },
      json: { type: 'boolean' },
      config: { type: 'string', short: 'c' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(`${VERIFY_HELP}\n`);
    return EXIT.OK;
  }
  const config = loadCheckedConfig(configFile(values.config), { checkSecrets: false });
  const store = await attachBlobStore(config);
  const dryRun = values['dry-run'] ?? false;
  let checked = 0;
  let bytes = 0;
  const corrupt: Array<{ digest: string; actual: string; size: number; removed: boolean }> = [];
  for await (const blob of store.list()) {
    let actual: string;
    try {
      actual = await hashBlob(store, blob.digest);
    } catch (error) {
      // Evicted while we were looking: nothing to verify.
      if (isNotKept(error)) continue;
      throw error;
    }
    checked += 1;
    bytes += blob.size;
    if (actual === blob.digest.hex) continue;
    if (!dryRun) await store.remove(blob.digest);
    corrupt.push({ digest: blob.digest.text, actual: `${blob.digest.algorithm}:${actual}`, size: blob.size, removed: !dryRun });
    if (!values.json) process.stdout.write(`corrupt ${blob.digest.text} (content hashes to ${blob.digest.algorithm}:${actual.slice(0, 12)}…)${dryRun ? '' : ', removed'}\n`);
  }
  if (values.json) process.stdout.write(`${JSON.stringify({ checked, bytes, corrupt })}\n`);
  else process.stdout.write(`checked ${checked} blobs (${formatBytes(bytes)}): ${corrupt.length === 0 ? 'all intact' : `${corrupt.length} corrupt${dryRun ? '' : ', removed'}`}\n`);
  return corrupt.length > 0 ? EXIT.CORRUPT : EXIT.OK;
}

async function hashBlob(store: Pick<BlobStore, 'open'>, digest: Digest): Promise<string> {
  const hash = createHash(digest.algorithm);
  for await (const chunk of store.open(digest)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

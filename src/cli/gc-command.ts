// `pullthrough gc`: one eviction sweep now, with the configured limits (or ones given here), under the
// same sweeper lock as the servers, so it is safe next to running replicas.

import { parseArgs } from 'node:util';
import { parseDuration, parseSize } from '../duration.ts';
import { openEviction } from '../eviction/open-eviction.ts';
import { keyvLastUse } from '../eviction/persisted-access.ts';
import { openKeyvForReading } from '../metadata/open-keyv.ts';
import { openReplicaLocks } from '../replicas/replica-locks.ts';
import { formatBytes } from '../observability/byte-size.ts';
import { attachBlobStore } from '../storage/open-blob-store.ts';
import { configFile, loadCheckedConfig } from './cli-config.ts';
import { cliLogger } from './cli-logger.ts';
import { EXIT, UsageError } from './exit-codes.ts';

export const GC_HELP = `Usage: pullthrough gc [options]

Evicts now what the background sweep would: least recently used blobs and manifests while the store is
over storage.maxSize (down to 90% of it), and anything unused for storage.maxAge. Nothing used within
storage.evictionGrace is touched, and a manifest goes before the blobs it names. Safe while the mirror
runs: it takes the same sweeper lock (Redis or the store's lock file).

Options:
      --max-size SIZE   cap for this run instead of storage.maxSize (e.g. 20GiB)
      --max-age AGE     age limit for this run instead of storage.maxAge (e.g. 14d)
  -n, --dry-run         report what would go, remove nothing
      --json            print the report as JSON
  -c, --config FILE     configuration file
  -h, --help            show this help

Exit status: 0 done, 1 failure, 2 usage or config error, 4 another process is sweeping now.`;

export async function gcCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      'max-size': { type: 'string' },
      'max-age': { type: 'string' },
      'dry-run': { type: 'boolean', short: 'n' },
      json: { type: 'boolean' },
      config: { type: 'string', short: 'c' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(`${GC_HELP}\n`);
    return EXIT.OK;
  }
  const maxBytes = values['max-size'] === undefined ? undefined : parseSize(values['max-size']);
  if (values['max-size'] !== undefined && (maxBytes === undefined || maxBytes <= 0)) throw new UsageError(`--max-size: not a size: "${values['max-size']}"`);
  const maxAgeMs = values['max-age'] === undefined ? undefined : parseDuration(values['max-age']);
  if (values['max-age'] !== undefined && maxAgeMs === undefined) throw new UsageError(`--max-age: not a duration: "${values['max-age']}"`);

  const config = loadCheckedConfig(configFile(values.config), { checkSecrets: false });
  const limits = { maxBytes: maxBytes ?? config.storage.maxSize, maxAgeMs: maxAgeMs ?? config.storage.maxAge };
  if (limits.maxBytes === undefined && limits.maxAgeMs === undefined) {
    throw new UsageError('no limit to enforce: set storage.maxSize or storage.maxAge, or pass --max-size / --max-age');
  }
  const store = await attachBlobStore(config);
  const log = cliLogger('gc');
  const locks = openReplicaLocks(config.metadata, log);
  // On S3 the last uses are in the metadata store (issue 10): read them, as the server's sweeps do.
  const lastUseKeyv = config.storage.s3 ? await openKeyvForReading(config, log, store) : undefined;
  const lastUse = lastUseKeyv && keyvLastUse(lastUseKeyv);
  const evictor = openEviction(config, store, log, locks, { intervalMs: 0, ...(lastUse && { lastUse }) });
  try {
    const result = await evictor.sweep({ ...limits, dryRun: values['dry-run'] ?? false });
    if (result.status === 'busy') {
      process.stderr.write('pullthrough gc: another process is sweeping this store now; try again later\n');
      return EXIT.BUSY;
    }
    const { report } = result;
    // A dry run removes nothing, so its "after" is what the store would hold once these went (issue 12:
    // it said "before = after" right under "would evict 15").
    const after = report.dryRun ? report.bytesBefore - report.freedBytes : report.bytesAfter;
    const blobsAfter = report.dryRun ? report.blobsAfter - report.evicted.length : report.blobsAfter;
    if (values.json) {
      const evicted = report.evicted.map((e) => ({ ...e, usedAt: new Date(Math.round(e.usedAt)).toISOString() }));
      process.stdout.write(
        `${JSON.stringify({ ...report, evicted, bytesAfter: after, blobsAfter, maxBytes: limits.maxBytes ?? null, maxAgeMs: limits.maxAgeMs ?? null })}\n`,
      );
      return EXIT.OK;
    }
    const verb = report.dryRun ? 'would evict' : 'evicted';
    const byReason = (reason: string): number => report.evicted.filter((e) => e.reason === reason).reduce((s, e) => s + e.size, 0);
    const lines = [
      `${verb} ${report.evicted.length} blobs and manifests, ${formatBytes(report.freedBytes)} (over the cap: ${formatBytes(byReason('size'))}, too old: ${formatBytes(byReason('age'))})`,
    ];
    // What goes, least recently used first, so a dry run answers "what would I lose?".
    for (const e of report.evicted) {
      lines.push(`  ${e.digest}  ${formatBytes(e.size).padStart(10)}  last used ${new Date(Math.round(e.usedAt)).toISOString()}  (${e.reason === 'size' ? 'over the cap' : 'too old'})`);
    }
    lines.push(
      `store: ${formatBytes(report.bytesBefore)} before, ${formatBytes(after)} after${report.dryRun ? ' (if run)' : ''}${limits.maxBytes !== undefined ? ` (cap ${formatBytes(limits.maxBytes)})` : ''}, ${blobsAfter} kept`,
    );
    if (report.protectedBytes > 0) lines.push(`kept because in use (grace period, being served, named by a kept manifest): ${formatBytes(report.protectedBytes)}`);
    if (report.tempBytes > 0) lines.push(`downloads in progress: ${formatBytes(report.tempBytes)}`);
    process.stdout.write(`${lines.join('\n')}\n`);
    return EXIT.OK;
  } finally {
    await evictor.stop();
    await lastUseKeyv?.disconnect();
    await locks.close();
  }
}

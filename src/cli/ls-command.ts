// `pullthrough ls` (issue 12, item 12): what the mirror has cached — each image tag per upstream, named
// as clients pull it, with its digest, the bytes of it kept and its last use. It reads what the servers
// read: the catalog index in the metadata store (Redis, or the embedded log read without writing to it)
// and the blob store for sizes. An operator's view: private upstreams are listed too.

import { parseArgs } from 'node:util';
import { cachedRepositories, cachedTags, keptImageSize } from '../cache/cached-catalog.ts';
import { MetadataStore } from '../metadata/metadata-store.ts';
import { openKeyvForReading } from '../metadata/open-keyv.ts';
import { formatBytes } from '../observability/byte-size.ts';
import { attachBlobStore } from '../storage/open-blob-store.ts';
import { configFile, loadCheckedConfig } from './cli-config.ts';
import { cliLogger } from './cli-logger.ts';
import { EXIT } from './exit-codes.ts';

export const LS_HELP = `Usage: pullthrough ls [options] [NAME...]

Lists the cached images: one line per tag, named as clients pull it through the mirror
(<upstream>/<repository>), with its digest, the bytes of it kept (manifest, config and layers; an
index with its platforms' images) and when it was last fetched or revalidated. "(partly kept)" marks an
image whose layers were never pulled or were evicted. NAME... keeps only names starting with one of them.

Options:
      --json          print JSON: {"images": [...]} with sizes in bytes and times in ISO 8601
  -c, --config FILE   configuration file
  -h, --help          show this help

Exit status: 0 listed (also when nothing is cached), 1 the store or metadata could not be read, 2 usage
or config error.`;

export interface ListedImage {
  upstream: string;
  repository: string;
  name: string;
  tag: string;
  digest: string;
  mediaType: string;
  size: number;
  complete: boolean;
  lastUsed: string;
}

export async function lsCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      json: { type: 'boolean' },
      config: { type: 'string', short: 'c' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write(`${LS_HELP}\n`);
    return EXIT.OK;
  }
  const config = loadCheckedConfig(configFile(values.config), { checkSecrets: false });
  const log = cliLogger('ls');
  const store = await attachBlobStore(config);
  const metadata = new MetadataStore(await openKeyvForReading(config, log, store), log, { tagRecordTtl: config.metadata.tagRecordTtl });
  try {
    const repositories = (await cachedRepositories(config, metadata)).filter((r) => positionals.length === 0 || positionals.some((p) => r.name.startsWith(p)));
    const tags = (await cachedTags(metadata, repositories)).sort((a, b) => (a.name === b.name ? (a.tag < b.tag ? -1 : 1) : a.name < b.name ? -1 : 1));
    const images: ListedImage[] = [];
    for (const tag of tags) {
      const kept = await keptImageSize(store, tag.digest);
      images.push({
        upstream: tag.upstream,
        repository: tag.repository,
        name: tag.name,
        tag: tag.tag,
        digest: tag.digest,
        mediaType: tag.mediaType,
        size: kept.bytes,
        complete: kept.complete,
        lastUsed: new Date(tag.usedAt).toISOString(),
      });
    }
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ images })}\n`);
      return EXIT.OK;
    }
    process.stdout.write(table(images));
    return EXIT.OK;
  } finally {
    await metadata.close();
  }
}

function table(images: readonly ListedImage[]): string {
  if (images.length === 0) return 'nothing cached yet: pull an image through the mirror, then look again\n';
  const rows = images.map((i) => [i.name, i.tag, shortDigest(i.digest), formatBytes(i.size), `${i.lastUsed.replace('T', ' ').slice(0, 16)} UTC${i.complete ? '' : '  (partly kept)'}`]);
  const header = ['IMAGE', 'TAG', 'DIGEST', 'SIZE', 'LAST USED'];
  const widths = header.map((h, column) => Math.max(h.length, ...rows.map((row) => (row[column] as string).length)));
  const line = (cells: string[]): string => cells.map((cell, column) => (column === cells.length - 1 ? cell : column === 3 ? cell.padStart(widths[column] as number) : cell.padEnd(widths[column] as number))).join('  ');
  const repositories = new Set(images.map((i) => i.name)).size;
  const total = images.reduce((sum, i) => sum + i.size, 0);
  return `${[line(header), ...rows.map(line)].join('\n')}\n\n${images.length} tag${images.length === 1 ? '' : 's'} in ${repositories} repositor${repositories === 1 ? 'y' : 'ies'} (${formatBytes(total)} kept, shared layers counted per image)\n`;
}

/** sha256: and the first 12 hex digits, as docker prints image ids. */
function shortDigest(digest: string): string {
  const colon = digest.indexOf(':');
  return `${digest.slice(0, colon + 13)}`;
}

// What is cached, by image name, for the catalog endpoint, the status page and `pullthrough ls` (issue 12,
// item 12). Read from the metadata store's catalog index (metadata-store.ts), never from upstreams. Which
// repositories a client sees is decided here once: only those it could pull (pull-policy.ts: a private
// upstream's only for authenticated clients; repository allow/deny lists), named as clients address them.

import type { Config, UpstreamConfig } from '../config.ts';
import { manifestReferences } from '../eviction/manifest-references.ts';
import type { IndexedTag, MetadataStore } from '../metadata/metadata-store.ts';
import { parseDigest } from '../reference.ts';
import { isRepositoryAllowed } from '../repository-rules.ts';
import type { BlobStore } from '../storage/blob-store.ts';

export interface CachedRepository {
  upstream: UpstreamConfig;
  /** As the upstream knows it (library/ubuntu). */
  repository: string;
  /** As clients address it through the mirror: <upstream>/<repository>. */
  name: string;
  usedAt: number;
}

export interface CachedTag extends IndexedTag {
  upstream: string;
  repository: string;
  name: string;
}

/** Cached repositories of the upstreams `visible` admits, sorted by name. */
export async function cachedRepositories(
  config: Config,
  metadata: Pick<MetadataStore, 'listRepositories'>,
  visible: (upstream: UpstreamConfig) => boolean = () => true,
): Promise<CachedRepository[]> {
  const upstreams = Object.values(config.upstreams).filter(visible);
  const lists = await Promise.all(upstreams.map((upstream) => metadata.listRepositories(upstream.name)));
  return upstreams
    .flatMap((upstream, i) =>
      (lists[i] ?? [])
        .filter((entry) => isRepositoryAllowed(upstream, entry.repository))
        .map((entry) => ({ upstream, repository: entry.repository, name: `${upstream.name}/${entry.repository}`, usedAt: entry.usedAt })),
    )
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The cached tags of these repositories, most recently used first. */
export async function cachedTags(metadata: Pick<MetadataStore, 'listTags'>, repositories: readonly CachedRepository[]): Promise<CachedTag[]> {
  const lists = await Promise.all(repositories.map((r) => metadata.listTags(r.upstream.name, r.repository)));
  return repositories
    .flatMap((r, i) => (lists[i] ?? []).map((tag) => ({ ...tag, upstream: r.upstream.name, repository: r.repository, name: r.name })))
    .sort((a, b) => b.usedAt - a.usedAt);
}

export interface KeptSize {
  /** Bytes of the image kept now: the manifest, and what it names that is kept (an index: its children's too). */
  bytes: number;
  /** Whether everything it names is kept (a pull needs no upstream byte). */
  complete: boolean;
}

/** What of an image is in the store, by its manifest's digest; nothing named twice is counted twice. */
export async function keptImageSize(store: Pick<BlobStore, 'stat' | 'readAll'>, digest: string): Promise<KeptSize> {
  const seen = new Set<string>();
  const total: KeptSize = { bytes: 0, complete: true };
  /** Counts one blob; returns its content if it is a manifest to look into. */
  const count = async (text: string, read: boolean): Promise<Buffer | undefined> => {
    if (seen.has(text)) return undefined;
    seen.add(text);
    const parsed = parseDigest(text);
    const stat = parsed ? await store.stat(parsed) : undefined;
    if (!parsed || !stat) {
      total.complete = false;
      return undefined;
    }
    total.bytes += stat.size;
    return read ? store.readAll(parsed) : undefined;
  };
  const top = await count(digest, true);
  const index = top && manifestList(top);
  // An index names manifests (each read for its config and layers); an image manifest names blobs.
  const manifests = index ? await Promise.all(index.map((child) => count(child, true))) : [top];
  for (const manifest of manifests) {
    for (const blob of (manifest && manifestReferences(manifest)) ?? []) await count(blob, false);
  }
  return total;
}

/** The child manifests of an image index or manifest list; undefined for anything else. */
function manifestList(bytes: Buffer): string[] | undefined {
  try {
    const parsed = JSON.parse(bytes.toString('utf8')) as { manifests?: unknown };
    if (!Array.isArray(parsed.manifests)) return undefined;
    return parsed.manifests.flatMap((entry: unknown) => {
      const digest = (entry as { digest?: unknown } | null)?.digest;
      return typeof digest === 'string' ? [digest] : [];
    });
  } catch {
    return undefined;
  }
}

// The referrers API (OCI distribution-spec 1.1, `GET /v2/<name>/referrers/<digest>`) cached like a tag
// (issue 13): the answer per (upstream, repository, subject, artifactType filter) is trusted for the
// upstream's tagTtl, then revalidated — with If-None-Match when the upstream sent an ETag, else with a
// GET (a referrers GET is not a Docker Hub pull) — and served stale when the upstream is unreachable,
// 5xx, 429 or refuses the mirror. Concurrent requests for one listing share one upstream request.
//
// An answer is kept and served only once it is verified to be an OCI image index: JSON with
// schemaVersion 2 and a `manifests` array of descriptors, at most MAX_REFERRERS_BYTES, typed as an index
// (or plain JSON). It is served as `application/vnd.oci.image.index.v1+json`, its exact bytes unless the
// mirror had to filter or join pages. With `artifactType`, only descriptors of that type are served and
// `OCI-Filters-Applied: artifactType` says so — whether the upstream filtered (it says so) or not (the
// spec lets it ignore the filter; the mirror then filters the index itself).
//
// A 404 means the upstream has no referrers API (distribution 2.8): it is passed on as a 404, never as
// an empty index (which would say "supported, no referrers" and stop clients from falling back to the
// tag schema, `sha256-<hex>`), and remembered for the tagTtl, also served while the upstream is down.
// Requests go through the upstream client's listing pool (its TLS trust and address policy), without
// following redirects, like the tags/list passthrough (issue 9).

import { request } from 'undici';
import { RegistryError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { MetadataStore, ReferrersRecord } from '../metadata/metadata-store.ts';
import type { Digest } from '../reference.ts';
import type { RouteTarget } from '../routing.ts';
import { readAtMost } from '../upstream/bounded-body.ts';
import { firstHeader } from '../upstream/rate-limit.ts';
import { USER_AGENT, type RegistryClient } from '../upstream/registry-client.ts';
import { upstreamError } from '../upstream/upstream-errors.ts';
import type { CacheOutcome } from './cache-outcome.ts';
import { SingleFlight } from './single-flight.ts';

export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
/** Same ceiling as the other listings (issue 9), over all pages together. */
export const MAX_REFERRERS_BYTES = 4 * 1024 * 1024;
/** Pages followed for one listing; registries page referrers rarely, and at hundreds per page. */
const MAX_PAGES = 16;
const DESCRIPTOR_DIGEST = /^(?:sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;
/** RFC 6838 type/subtype (with a suffix), as OCI media types and artifact types are. */
const MEDIA_TYPE = /^[A-Za-z0-9][\w!#$&^.+-]{0,126}\/[A-Za-z0-9][\w!#$&^.+-]{0,126}$/;
const NEXT_LINK = /^\s*<([^<>\s]+)>\s*;\s*rel="?next"?\s*$/i;
/** A strong or weak entity tag, bounded: it is sent back to the upstream and kept. */
const ETAG = /^(?:W\/)?"[\x21\x23-\x7e]{0,200}"$/;

export interface ReferrersAnswer {
  /** An OCI image index, as served to the client. */
  body: Buffer;
  /** A filter was asked for and applied (OCI-Filters-Applied: artifactType). */
  filtersApplied: boolean;
  outcome: CacheOutcome;
}

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
}

interface ImageIndex {
  schemaVersion: 2;
  manifests: Descriptor[];
  [field: string]: unknown;
}

type UpstreamAnswer =
  | { kind: 'index'; body: Buffer; etag: string | undefined }
  | { kind: 'not-modified' }
  | { kind: 'unsupported' };

interface ReferrersCacheDeps {
  metadata: MetadataStore;
  clientFor: (upstream: string) => RegistryClient;
  log: Logger;
  now?: () => number;
}

export class ReferrersCache {
  private readonly deps: ReferrersCacheDeps;
  private readonly now: () => number;
  private readonly flights = new SingleFlight<ReferrersAnswer>();

  constructor(deps: ReferrersCacheDeps) {
    this.deps = deps;
    this.now = deps.now ?? Date.now;
  }

  /** The referrers of `subject`, only those of `artifactType` when given; throws NAME_UNKNOWN for a 404. */
  async resolve(target: RouteTarget, subject: Digest, artifactType: string | undefined): Promise<ReferrersAnswer> {
    // No descriptor kept can have a type that is not a media type: nothing to ask, nothing to remember.
    if (artifactType !== undefined && !MEDIA_TYPE.test(artifactType)) {
      return { body: Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] })), filtersApplied: true, outcome: 'hit' };
    }
    const { upstream, repository } = target;
    const record = await this.deps.metadata.getReferrers(upstream.name, repository, subject.text, artifactType);
    if (record && this.now() - record.checkedAt < upstream.tagTtl) return answerFrom(record, 'hit');
    const key = JSON.stringify([upstream.name, repository, subject.text, artifactType ?? null]);
    return this.flights.run(key, () => this.refresh(target, subject, artifactType, record));
  }

  private async refresh(target: RouteTarget, subject: Digest, artifactType: string | undefined, record: ReferrersRecord | undefined): Promise<ReferrersAnswer> {
    const { upstream, repository } = target;
    const remember = (next: ReferrersRecord): Promise<void> =>
      this.deps.metadata.setReferrers(upstream.name, repository, subject.text, artifactType, next);
    const etag = record?.kind === 'index' ? record.etag : undefined;
    let answer: UpstreamAnswer;
    try {
      answer = await this.fetch(target, subject, artifactType, etag);
    } catch (error) {
      if (!record) throw error;
      this.deps.log.warn({ upstream: upstream.name, repository, subject: subject.text, artifactType, err: error }, 'upstream failed, serving stale referrers');
      return answerFrom(record, 'stale');
    }
    if (answer.kind === 'not-modified' && record?.kind === 'index') {
      await remember({ ...record, checkedAt: this.now() });
      return answerFrom(record, 'revalidated');
    }
    if (answer.kind === 'index') {
      const next: ReferrersRecord = {
        kind: 'index',
        body: answer.body.toString('base64'),
        ...(answer.etag !== undefined && { etag: answer.etag }),
        filtersApplied: artifactType !== undefined,
        checkedAt: this.now(),
      };
      await remember(next);
      const same = record?.kind === 'index' && record.body === next.body;
      return answerFrom(next, same ? 'revalidated' : 'miss');
    }
    await remember({ kind: 'unsupported', checkedAt: this.now() });
    throw unsupported(upstream.name);
  }

  /** One listing from the upstream, verified, filtered and (if paged) joined; throws on any failure. */
  private async fetch(target: RouteTarget, subject: Digest, artifactType: string | undefined, etag: string | undefined): Promise<UpstreamAnswer> {
    const client = this.deps.clientFor(target.upstream.name);
    const base = new URL(target.upstream.url);
    const path = `${base.pathname.replace(/\/$/, '')}/v2/${target.repository}/referrers/${subject.text}`;
    const first = new URL(`${base.origin}${path}`);
    if (artifactType !== undefined) first.searchParams.set('artifactType', artifactType);
    const authorization = await client.authorizationHeader(target.repository);

    const manifests: Descriptor[] = [];
    let firstPage: { bytes: Buffer; index: ImageIndex; etag: string | undefined; filtered: boolean } | undefined;
    let budget = MAX_REFERRERS_BYTES;
    let url: URL | undefined = first;
    for (let page = 0; url !== undefined; page++) {
      if (page >= MAX_PAGES) throw invalid(target, 'too many pages');
      const headers: Record<string, string> = { 'user-agent': USER_AGENT, accept: OCI_INDEX };
      if (authorization) headers.authorization = authorization;
      if (page === 0 && etag !== undefined) headers['if-none-match'] = etag;
      let response: Awaited<ReturnType<typeof request>>;
      try {
        response = await request(url, { method: 'GET', headers, dispatcher: client.listingDispatcher });
      } catch (error) {
        throw new RegistryError('UNAVAILABLE', `upstream ${target.upstream.name} unreachable`, { cause: error });
      }
      const status = response.statusCode;
      if (status !== 200) {
        // Whatever else it sent is not a listing: its body is not read.
        await discard(response);
        if (page === 0 && status === 304 && etag !== undefined) return { kind: 'not-modified' };
        if (page === 0 && status === 404) return { kind: 'unsupported' };
        if (status >= 300 && status < 400) {
          this.deps.log.warn({ status, upstream: target.upstream.name }, 'upstream redirected a referrers listing; not followed');
          throw new RegistryError('UNAVAILABLE', 'upstream redirected the listing', { upstreamStatus: status });
        }
        throw page === 0 ? upstreamError({ status, headers: response.headers }, 'NAME_UNKNOWN') : invalid(target, `page ${page + 1} answered ${status}`);
      }
      const bytes = await this.readIndexBody(target, response, budget);
      budget -= bytes.length;
      const index = parseIndex(bytes);
      if (!index) throw invalid(target, 'not an OCI image index');
      const filtered = (firstHeader(response.headers['oci-filters-applied']) ?? '').split(',').some((name) => name.trim() === 'artifactType');
      if (!firstPage) {
        const announced = firstHeader(response.headers.etag);
        firstPage = { bytes, index, etag: announced !== undefined && ETAG.test(announced) ? announced : undefined, filtered };
      }
      manifests.push(...index.manifests);
      url = nextPage(firstHeader(response.headers.link), url, first);
    }
    if (!firstPage) throw invalid(target, 'no answer');
    const kept = artifactType === undefined ? manifests : manifests.filter((m) => m.artifactType === artifactType);
    if (artifactType !== undefined && !firstPage.filtered) {
      this.deps.log.debug({ upstream: target.upstream.name, artifactType }, 'upstream ignored artifactType; filtered by the mirror');
    }
    // The upstream's exact bytes when they are the answer; a re-serialised index only when pages were
    // joined or descriptors filtered out (a referrers index has no digest a client checks).
    if (kept.length === firstPage.index.manifests.length && manifests.length === kept.length) {
      return { kind: 'index', body: firstPage.bytes, etag: firstPage.etag };
    }
    const joined = manifests.length > firstPage.index.manifests.length;
    const body = Buffer.from(JSON.stringify({ ...firstPage.index, manifests: kept }));
    // A 304 for the first page says nothing of the others: a joined listing is revalidated by GET.
    return { kind: 'index', body, etag: joined ? undefined : firstPage.etag };
  }

  private async readIndexBody(target: RouteTarget, response: Awaited<ReturnType<typeof request>>, budget: number): Promise<Buffer> {
    const type = (firstHeader(response.headers['content-type']) ?? '').split(';')[0]?.trim().toLowerCase();
    if (type !== OCI_INDEX && type !== 'application/json') {
      await discard(response);
      throw invalid(target, `content type ${JSON.stringify(type)}`);
    }
    const declared = Number(firstHeader(response.headers['content-length']));
    if (Number.isFinite(declared) && declared > budget) {
      await discard(response);
      throw invalid(target, `larger than ${MAX_REFERRERS_BYTES} bytes`);
    }
    let bytes: Buffer | undefined;
    try {
      bytes = await readAtMost(response.body, budget);
    } catch (error) {
      throw new RegistryError('UNAVAILABLE', 'upstream referrers listing cut', { cause: error });
    }
    if (!bytes) throw invalid(target, `larger than ${MAX_REFERRERS_BYTES} bytes`);
    return bytes;
  }
}

/** Undici reads at most a little of an unwanted body, then closes it quietly (destroy would throw later). */
async function discard(response: Awaited<ReturnType<typeof request>>): Promise<void> {
  await response.body.dump().catch(() => undefined);
}

function answerFrom(record: ReferrersRecord, outcome: CacheOutcome): ReferrersAnswer {
  if (record.kind === 'unsupported') throw unsupported();
  return { body: Buffer.from(record.body, 'base64'), filtersApplied: record.filtersApplied, outcome };
}

/** What a registry without the referrers API answers (distribution-spec: clients then use the tag schema). */
function unsupported(upstream?: string): RegistryError {
  return new RegistryError('NAME_UNKNOWN', 'the upstream has no referrers API; use the tag schema', {
    upstreamStatus: 404,
    ...(upstream !== undefined && { detail: { upstream } }),
  });
}

function invalid(target: RouteTarget, reason: string): RegistryError {
  return new RegistryError('UNAVAILABLE', 'upstream referrers answer is not an OCI image index', { detail: { upstream: target.upstream.name, reason } });
}

/** An OCI image index (schemaVersion 2, descriptors with a media type, a digest and a size), or undefined. */
export function parseIndex(bytes: Buffer): ImageIndex | undefined {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!isObject(value) || value.schemaVersion !== 2 || !Array.isArray(value.manifests)) return undefined;
  if (value.mediaType !== undefined && value.mediaType !== OCI_INDEX) return undefined;
  if (!value.manifests.every(isDescriptor)) return undefined;
  return value as ImageIndex;
}

function isDescriptor(value: unknown): value is Descriptor {
  return isObject(value)
    && typeof value.mediaType === 'string' && MEDIA_TYPE.test(value.mediaType)
    && typeof value.digest === 'string' && DESCRIPTOR_DIGEST.test(value.digest)
    && typeof value.size === 'number' && Number.isSafeInteger(value.size) && value.size >= 0
    && (value.artifactType === undefined || typeof value.artifactType === 'string');
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The next page: only `rel="next"` to the same listing on the upstream's origin (issue 9). */
function nextPage(link: string | undefined, current: URL, first: URL): URL | undefined {
  const match = link === undefined ? null : NEXT_LINK.exec(link);
  if (!match) return undefined;
  let url: URL;
  try {
    url = new URL(match[1] as string, current);
  } catch {
    return undefined;
  }
  return url.origin === first.origin && url.pathname === first.pathname ? url : undefined;
}

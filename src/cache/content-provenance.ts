// Where kept content came from, and who may have it through which route (issue 9, finding 12). The blob
// store is shared by every upstream (and by replicas whose configs may differ), so a digest fetched from
// a private upstream would otherwise be served by digest through any public upstream's route, to anyone,
// without that upstream ever being asked.
//
// Each successful upstream fetch records the upstream as one of the digest's origins. A kept digest (or
// one joined while in flight) is served through route upstream U when the client may pull from at least
// one origin: U itself, or a configured upstream that is public or that the client authenticated for
// (pull-policy.ts). Otherwise U must confirm it has the digest — a HEAD, which costs no Docker Hub pull —
// and then becomes an origin too; if it has not, the answer is BLOB_UNKNOWN / MANIFEST_UNKNOWN. An origin
// not in this config (another replica's) counts as private. A digest with no record at all (an older
// cache, lost metadata) is served as before when this config has no private upstream — so kept content
// stays servable with Redis gone — and needs the confirmation when it has one.
//
// Residual trust: a configured upstream that answers 200 to every HEAD is believed. It is one the
// operator chose to mirror; distribution's proxy trusts its upstream the same way.

import type { FastifyRequest } from 'fastify';
import { isPrivateUpstream, mayPull } from '../auth/pull-policy.ts';
import type { Config } from '../config.ts';
import { RegistryError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { UPSTREAM_MANIFEST_ACCEPT } from '../manifest-media-types.ts';
import type { MetadataStore } from '../metadata/metadata-store.ts';
import type { Digest } from '../reference.ts';
import type { RouteTarget } from '../routing.ts';
import { firstHeader } from '../upstream/rate-limit.ts';
import type { RegistryClient } from '../upstream/registry-client.ts';
import { upstreamError } from '../upstream/upstream-errors.ts';

export type ContentKind = 'blob' | 'manifest';

interface ContentProvenanceDeps {
  config: Config;
  metadata: MetadataStore;
  clientFor: (upstream: string) => RegistryClient;
  log: Logger;
}

/**
 * Origins seen by this process, to spare a metadata read per served blob. Safe to keep: origins only
 * grow, and an upstream that once served a digest stays a true origin of those bytes.
 */
const LOCAL_ORIGINS = 50_000;

export class ContentProvenance {
  private readonly deps: ContentProvenanceDeps;
  private readonly hasPrivateUpstream: boolean;
  private readonly local = new Map<string, ReadonlySet<string>>();

  constructor(deps: ContentProvenanceDeps) {
    this.deps = deps;
    this.hasPrivateUpstream = Object.values(deps.config.upstreams).some(isPrivateUpstream);
  }

  /** Records that `upstream` served `digest` (a manifest fetched, or a blob whose fill started). */
  async recordOrigin(upstream: string, digest: Digest): Promise<void> {
    // Known to this process at once: requests that joined the same fill are admitted without waiting
    // for the metadata write (or asking the upstream again).
    this.remember(digest, [upstream]);
    this.remember(digest, await this.deps.metadata.addOrigin(digest.text, upstream));
  }

  /**
   * recordOrigin for a response that does not wait for the record: a blob download starting. Known to
   * this process at once; the metadata write is issued after this turn of the event loop, since even
   * unawaited its synchronous part (an LMDB put encodes and queues the write) would run before the first
   * byte of the response is written.
   */
  noteOrigin(upstream: string, digest: Digest): void {
    this.remember(digest, [upstream]);
    setImmediate(() => {
      this.recordOrigin(upstream, digest).catch((error: unknown) => this.deps.log.warn({ err: error, digest: digest.text }, 'origin not recorded'));
    });
  }

  /**
   * Throws BLOB_UNKNOWN / MANIFEST_UNKNOWN (or the upstream's failure) unless the kept `digest` may be
   * served to `request` through `target`'s upstream; may ask that upstream with a HEAD.
   */
  async admit(request: Pick<FastifyRequest, 'clientAccount' | 'log'>, target: RouteTarget, digest: Digest, kind: ContentKind): Promise<void> {
    const route = target.upstream.name;
    const seen = this.local.get(digest.text);
    if (seen && this.allows(request, route, seen)) return;
    const recorded = await this.deps.metadata.getOrigins(digest.text);
    if (recorded === undefined) {
      // Nothing recorded (an older cache, metadata lost): only a config with a private upstream could
      // have put private content in the store.
      if (!this.hasPrivateUpstream && !seen) return;
    } else {
      const origins = this.remember(digest, recorded);
      if (this.allows(request, route, origins)) return;
    }
    await this.confirm(target, digest, kind);
    request.log.info({ digest: digest.text, upstream: route, kind }, 'kept content confirmed by the route upstream');
    await this.recordOrigin(route, digest);
  }

  private allows(request: Pick<FastifyRequest, 'clientAccount'>, route: string, origins: ReadonlySet<string>): boolean {
    if (origins.has(route)) return true;
    for (const origin of origins) {
      // An origin this config does not know (another replica's) counts as private.
      const upstream = this.deps.config.upstreams[origin];
      if (upstream && mayPull(request, upstream)) return true;
    }
    return false;
  }

  /** Asks the route's upstream (HEAD, no pull counted) whether it has the digest. */
  private async confirm(target: RouteTarget, digest: Digest, kind: ContentKind): Promise<void> {
    const notFound = kind === 'blob' ? 'BLOB_UNKNOWN' : 'MANIFEST_UNKNOWN';
    const response = await this.deps.clientFor(target.upstream.name).send({
      method: 'HEAD',
      path: `/v2/${target.repository}/${kind === 'blob' ? 'blobs' : 'manifests'}/${digest.text}`,
      repository: target.repository,
      ...(kind === 'manifest' && { headers: { accept: UPSTREAM_MANIFEST_ACCEPT } }),
    });
    await response.body.dump();
    if (response.status !== 200) throw upstreamError(response, notFound);
    const announced = firstHeader(response.headers['docker-content-digest']);
    if (announced !== undefined && announced !== digest.text) {
      throw new RegistryError(notFound, undefined, { detail: { upstreamDigest: announced } });
    }
  }

  private remember(digest: Digest, origins: Iterable<string>): ReadonlySet<string> {
    const merged = new Set([...(this.local.get(digest.text) ?? []), ...origins]);
    this.local.delete(digest.text);
    this.local.set(digest.text, merged);
    if (this.local.size > LOCAL_ORIGINS) this.local.delete(this.local.keys().next().value as string);
    return merged;
  }
}

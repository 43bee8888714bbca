// Negative caching (issue 13, item 5): a tag, repository or digest an upstream said does not exist is
// remembered for upstreams.<name>.negativeTtl per (upstream, repository, tag or digest), in the shared
// metadata store, so a CI loop with a typo costs one upstream request per window instead of one per try.
//
// Only a definitive "does not exist" counts: 404, or Docker Hub's 401 for a missing repository (a token
// we got for the scope, refused as `insufficient_scope`). Never an unreachable upstream, a 5xx, a 429, a
// 403, or a 401 that refuses our credentials: those say nothing about existence, and remembering them
// would turn a short outage into a window of false "unknown" answers.
//
// The key carries the repository for digests too: a digest missing from one repository may exist in
// another of the same upstream, and distribution answers per repository.

import { RegistryError } from '../errors.ts';
import type { AbsenceRecord, MetadataStore } from '../metadata/metadata-store.ts';
import type { RouteTarget } from '../routing.ts';
import { parseAuthChallenge } from '../upstream/auth-challenge.ts';
import { firstHeader } from '../upstream/rate-limit.ts';
import type { UpstreamResponse } from '../upstream/registry-client.ts';

/** The upstream's answer says the thing asked for does not exist (not that it could not be asked). */
export function isDefinitiveAbsence(response: Pick<UpstreamResponse, 'status' | 'headers'>): boolean {
  if (response.status === 404) return true;
  if (response.status !== 401) return false;
  // registry-client gives up on a Bearer challenge only once a token of its own was refused as lacking the
  // scope: Docker Hub's answer for a repository that does not exist. A Basic challenge refuses credentials.
  const challenge = parseAuthChallenge(firstHeader(response.headers['www-authenticate']));
  return challenge?.scheme === 'bearer' && challenge.error === 'insufficient_scope';
}

export class NegativeCache {
  private readonly metadata: MetadataStore;
  private readonly now: () => number;

  constructor(metadata: MetadataStore, now: () => number) {
    this.metadata = metadata;
    this.now = now;
  }

  /** Throws the remembered "unknown" for (upstream, repository, reference), if there is one. */
  async check(target: RouteTarget, reference: string): Promise<void> {
    if (target.upstream.negativeTtl <= 0) return;
    const record = await this.metadata.getAbsence(target.upstream.name, target.repository, reference, this.now());
    if (record) throw new RegistryError(record.code);
  }

  /** Remembers `error` when it stands for a definitive absence the upstream answered with. */
  async remember(target: RouteTarget, reference: string, response: Pick<UpstreamResponse, 'status' | 'headers'>, error: RegistryError): Promise<void> {
    const ttl = target.upstream.negativeTtl;
    if (ttl <= 0 || !isDefinitiveAbsence(response)) return;
    if (error.code !== 'MANIFEST_UNKNOWN' && error.code !== 'NAME_UNKNOWN') return;
    const record: AbsenceRecord = { code: error.code, until: this.now() + ttl };
    await this.metadata.setAbsence(target.upstream.name, target.repository, reference, record, ttl);
  }
}

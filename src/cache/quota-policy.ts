// Issue 15: how the mirror spends an upstream's pull quota. Only manifest GETs count (Docker Hub: a GET
// of a manifest is a pull; HEAD and blobs are free), so only they ask for a permit here.
//
// - Above the reserve (upstreams.<name>.quota.reserve): every GET goes.
// - At the reserve: only content nobody has yet (`new`). A tag whose digest changed upstream (`refresh`)
//   keeps serving the cached digest until the window resets; prefetch (the background header) pauses.
// - At zero, or held by a 429: no GET at all; what is not cached is answered 429 with a Retry-After
//   derived from the window.
// No figures from the upstream (registries without ratelimit-* headers): nothing is held.
//
// GETs in flight in this process count against what is left, so concurrent requests cannot overshoot the
// reserve together. Replicas see each other's figures (quota-view.ts) but not each other's requests in
// flight: across replicas the reserve can be overshot by what they send at the same moment.

import type { UpstreamConfig } from '../config.ts';
import { RegistryError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { credentialOf, type QuotaSnapshot, type QuotaView } from '../upstream/quota-view.ts';

/**
 * `new`: content nobody has yet, for a client (may spend the reserve); `refresh`: the new manifest of a
 * changed tag (the cached one is served meanwhile); `background`: prefetch (pauses at the reserve).
 */
export type Spend = 'new' | 'refresh' | 'background';

/** Sent by `pullthrough prefetch`: the request is background work that must not spend the reserve. */
export const BACKGROUND_HEADER = 'x-pullthrough-background';

export type QuotaState = 'open' | 'reserve' | 'exhausted' | 'limited';

export interface QuotaStatus extends QuotaSnapshot {
  /** The reserve in pulls (a percentage resolved against the limit). */
  reserve: number;
  state: QuotaState;
}

/** A GET the quota does not allow now: `retry-after` says when it will. */
export class QuotaDeferral extends RegistryError {
  readonly reason: Exclude<QuotaState, 'open'>;
  readonly resumesAt: number;

  constructor(upstream: string, reason: Exclude<QuotaState, 'open'>, resumesAt: number, status: QuotaStatus) {
    const words =
      reason === 'reserve' ? `pull quota of ${upstream} is at its reserve (${status.remaining} left, reserve ${status.reserve})`
      : reason === 'exhausted' ? `pull quota of ${upstream} is spent`
      : `upstream ${upstream} answered 429 Too Many Requests`;
    super('TOOMANYREQUESTS', `${words}; resuming at ${new Date(resumesAt).toISOString()}`, {
      headers: { 'retry-after': String(Math.max(1, Math.ceil((resumesAt - Date.now()) / 1000))) },
      detail: { upstream, reason, remaining: status.remaining, reserve: status.reserve, resumesAt: new Date(resumesAt).toISOString() },
    });
    this.reason = reason;
    this.resumesAt = resumesAt;
  }
}

export interface QuotaPolicyDeps {
  view: QuotaView;
  log: Logger;
  /** A GET held back: `served_stale` (a changed tag kept its cached digest) or `refused` (answered 429). */
  onHeld?: (upstream: string, outcome: 'served_stale' | 'refused') => void;
  now?: () => number;
}

export class QuotaPolicy {
  private readonly deps: QuotaPolicyDeps;
  private readonly now: () => number;
  private readonly inFlight = new Map<string, number>();

  constructor(deps: QuotaPolicyDeps) {
    this.deps = deps;
    this.now = deps.now ?? Date.now;
  }

  /** The upstream's quota as the mirror sees it now; undefined when it never sent figures. */
  async status(upstream: UpstreamConfig): Promise<QuotaStatus | undefined> {
    const snapshot = await this.deps.view.current(upstream.name, credentialOf(upstream));
    return snapshot && this.judge(upstream, snapshot, 0);
  }

  /**
   * A permit for one manifest GET: call the returned function once the answer is in (its figures have
   * then been observed). Throws a QuotaDeferral when the quota does not allow it.
   */
  async acquire(upstream: UpstreamConfig, spend: Spend): Promise<() => void> {
    const snapshot = await this.deps.view.current(upstream.name, credentialOf(upstream));
    if (!snapshot) return () => undefined;
    const key = `${upstream.name}\n${snapshot.credential}`;
    const inFlight = this.inFlight.get(key) ?? 0;
    const status = this.judge(upstream, snapshot, inFlight);
    const allowed = status.state === 'open' || (status.state === 'reserve' && spend === 'new');
    if (!allowed) {
      const reason = status.state as Exclude<QuotaState, 'open'>;
      const resumesAt = status.limitedUntil ?? status.resetAt;
      if (spend !== 'refresh') {
        this.deps.onHeld?.(upstream.name, 'refused');
        this.deps.log.info({ upstream: upstream.name, reason, remaining: status.remaining, reserve: status.reserve, resumesAt: new Date(resumesAt).toISOString() }, `pull quota held: ${spend === 'background' ? 'prefetch paused' : 'answered 429'}`);
      }
      throw new QuotaDeferral(upstream.name, reason, resumesAt, status);
    }
    this.inFlight.set(key, inFlight + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.inFlight.get(key) ?? 1) - 1;
      if (left > 0) this.inFlight.set(key, left);
      else this.inFlight.delete(key);
    };
  }

  /** A changed tag kept its cached digest because of the quota: logged and counted. */
  servedStale(upstream: string, fields: Record<string, unknown>, deferral: QuotaDeferral): void {
    this.deps.onHeld?.(upstream, 'served_stale');
    this.deps.log.info(
      { upstream, ...fields, reason: deferral.reason, resumesAt: new Date(deferral.resumesAt).toISOString() },
      'tag changed upstream; pull quota held, serving the cached digest',
    );
  }

  private judge(upstream: UpstreamConfig, snapshot: QuotaSnapshot, inFlight: number): QuotaStatus {
    const reserve = reserveOf(upstream, snapshot.limit);
    const left = snapshot.remaining - inFlight;
    const state: QuotaState =
      snapshot.limitedUntil !== undefined ? 'limited'
      : left <= 0 ? 'exhausted'
      : left <= reserve ? 'reserve'
      : 'open';
    return { ...snapshot, reserve, state };
  }
}

/** The configured reserve in pulls: a number as is, a percentage of the limit rounded up. */
export function reserveOf(upstream: Pick<UpstreamConfig, 'quota'>, limit: number): number {
  const reserve = upstream.quota.reserve;
  if (typeof reserve === 'number') return reserve;
  return Math.ceil((limit * Number(reserve.trim().replace(/\s*%$/, ''))) / 100);
}

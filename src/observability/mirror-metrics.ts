// The mirror's Prometheus metrics, on a registry of its own per app (several apps in one test process
// must not share counters). Counters are fed by the request hook and the upstream clients; gauges are
// read when scraped from the services that own the numbers (fills, clients, the cache size scan).
// The status page reads these same metrics, so what it shows always matches /metrics.

import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { CacheOutcome } from '../cache/cache-outcome.ts';
import type { QuotaState, QuotaStatus } from '../cache/quota-policy.ts';
import type { CacheSizeScanner } from './cache-size.ts';
import type { PersistedStats, PersistedTotals } from './persisted-stats.ts';
import { TopCounter } from './top-counter.ts';
import { TrafficHistory } from './traffic-history.ts';
import { UpstreamHealth } from './upstream-health.ts';

export type RequestKind = 'manifest' | 'blob' | 'tags' | 'referrers' | 'ping' | 'catalog';
export type RequestCache = CacheOutcome | 'none';

/** Outcomes answered from what the mirror keeps: no upstream GET was needed. */
export const FROM_CACHE: ReadonlySet<RequestCache> = new Set(['hit', 'revalidated', 'stale']);

/** The live services whose state the gauges report, attached once they exist. */
export interface MetricSources {
  upstreams: readonly string[];
  /** The upstream's pull quota as replicas share it (issue 15); undefined before it sent figures. */
  quota(upstream: string): Promise<QuotaStatus | undefined>;
  fillsInFlight(): number;
  cacheSize: CacheSizeScanner;
  /** The configured size cap in bytes, if any. */
  maxBytes: number | undefined;
  /** The status page's counters kept in the metadata store (issue 12, item 15). */
  stats?: PersistedStats;
}

export interface ServedRequest {
  kind: RequestKind;
  method: string;
  cache: RequestCache;
  status: number;
  /** Body bytes sent (Content-Length of a GET's 2xx answer). */
  bytes: number;
  /** upstream/repository of a manifest asked for by tag: one image pull. */
  pulledImage?: string;
}

export interface UpstreamResponseEvent {
  upstream: string;
  method: string;
  status: number;
  kind: string;
}

/** How many images the pull table shows (and /metrics exports, bounding that label's cardinality). */
export const TOP_IMAGES = 10;

export class MirrorMetrics {
  readonly registry = new Registry();
  readonly startedAt = Date.now();
  readonly traffic = new TrafficHistory();
  readonly topImages = new TopCounter();
  readonly health = new UpstreamHealth();

  readonly requests = new Counter({
    name: 'pullthrough_requests_total',
    help: 'Registry API requests by endpoint kind, method, cache outcome and status class',
    labelNames: ['kind', 'method', 'cache', 'status_class'] as const,
    registers: [this.registry],
  });
  readonly servedBytes = new Counter({
    name: 'pullthrough_served_bytes_total',
    help: 'Body bytes sent to clients, by where the answer came from (cache: hit, revalidated, stale; upstream: miss, passthrough)',
    labelNames: ['source'] as const,
    registers: [this.registry],
  });
  readonly upstreamRequests = new Counter({
    name: 'pullthrough_upstream_requests_total',
    help: 'Responses received from upstreams by method, kind and status class (a manifest GET is a Docker Hub pull)',
    labelNames: ['upstream', 'method', 'kind', 'status_class'] as const,
    registers: [this.registry],
  });
  readonly upstreamErrors = new Counter({
    name: 'pullthrough_upstream_errors_total',
    help: 'Upstream failures: unreachable, server_error (5xx), rate_limited (429), token_refused',
    labelNames: ['upstream', 'reason'] as const,
    registers: [this.registry],
  });
  readonly quotaHeldCounter = new Counter({
    name: 'pullthrough_quota_held_total',
    help: 'Manifest GETs the pull quota held back (issue 15): served_stale (a changed tag kept its cached digest until the window resets), refused (answered 429)',
    labelNames: ['upstream', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly upstreamBytes = new Counter({
    name: 'pullthrough_upstream_fetched_bytes_total',
    help: 'Body bytes fetched from upstreams for manifests and blobs (as announced by Content-Length)',
    labelNames: ['upstream'] as const,
    registers: [this.registry],
  });

  readonly evictions = new Counter({
    name: 'pullthrough_evictions_total',
    help: 'Blobs and manifests removed from the store: size (over storage.maxSize), age (storage.maxAge), corrupt (failed verify)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly evictedBytes = new Counter({
    name: 'pullthrough_evicted_bytes_total',
    help: 'Bytes freed by removing blobs and manifests from the store, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly evictionSweeps = new Counter({
    name: 'pullthrough_eviction_sweeps_total',
    help: 'Eviction sweeps: done, busy (another process held the sweeper lock), failed',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  private sources: MetricSources | undefined;

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    // Gauge collect() callbacks get the gauge as `this`; these reach the live sources instead.
    const sources = (): MetricSources | undefined => this.sources;
    const { health, topImages } = this;
    new Gauge({
      name: 'pullthrough_fills_in_flight',
      help: 'Blob downloads from upstream running now',
      registers: [this.registry],
      collect() {
        this.set(sources()?.fillsInFlight() ?? 0);
      },
    });
    new Gauge({
      name: 'pullthrough_cache_bytes',
      help: 'Bytes kept in the blob store (last background scan)',
      registers: [this.registry],
      collect() {
        this.set(sources()?.cacheSize.view.bytes ?? 0);
      },
    });
    new Gauge({
      name: 'pullthrough_cache_blobs',
      help: 'Blobs and manifests kept in the blob store (last background scan)',
      registers: [this.registry],
      collect() {
        this.set(sources()?.cacheSize.view.blobs ?? 0);
      },
    });
    new Gauge({
      name: 'pullthrough_stats_since_seconds',
      help: "Start (unix time) of the status page's totals, which the metadata store keeps across restarts; the counters here are this process's only",
      registers: [this.registry],
      async collect() {
        const totals = await sources()?.stats?.totals();
        if (totals) this.set(Math.floor(totals.since / 1000));
      },
    });
    // Read from the view replicas share (async collect): every replica shows what any of them last saw.
    const quotaGauge = (name: string, help: string, pick: (status: QuotaStatus) => number | undefined, extraLabel?: 'state'): void => {
      new Gauge({
        name,
        help,
        labelNames: extraLabel ? (['upstream', 'credential', extraLabel] as const) : (['upstream', 'credential'] as const),
        registers: [this.registry],
        async collect() {
          this.reset();
          const live = sources();
          for (const upstream of live?.upstreams ?? []) {
            const status = await live?.quota(upstream);
            if (!status) continue;
            if (extraLabel) {
              for (const state of QUOTA_STATES) this.set({ upstream, credential: status.credential, state }, status.state === state ? 1 : 0);
              continue;
            }
            const value = pick(status);
            if (value !== undefined) this.set({ upstream, credential: status.credential }, value);
          }
        },
      });
    };
    quotaGauge(
      'pullthrough_upstream_ratelimit_remaining',
      'Pulls left in the window as an upstream last reported them, to any replica (Docker Hub ratelimit-remaining); the limit again once the estimated reset has passed',
      (status) => status.remaining,
    );
    quotaGauge(
      'pullthrough_upstream_ratelimit_limit',
      'Last ratelimit-limit an upstream reported (Docker Hub: pulls allowed per window)',
      (status) => status.limit,
    );
    quotaGauge(
      'pullthrough_upstream_ratelimit_reset_timestamp_seconds',
      'Estimated end of the quota window (first observation of the window + w=), Unix time',
      (status) => Math.round((status.limitedUntil ?? status.resetAt) / 1000),
    );
    quotaGauge(
      'pullthrough_upstream_ratelimit_window_seconds',
      'Length of the quota window (w= of ratelimit-limit)',
      (status) => status.windowSeconds,
    );
    quotaGauge('pullthrough_upstream_quota_reserve', 'Pulls kept for content nobody has yet (upstreams.<name>.quota.reserve)', (status) => status.reserve);
    quotaGauge(
      'pullthrough_upstream_quota_state',
      'How the quota is spent now: open, reserve (changed tags serve their cached digest, prefetch pauses), exhausted or limited (429: only cached content)',
      () => undefined,
      'state',
    );
    new Gauge({
      name: 'pullthrough_upstream_up',
      help: 'Whether the last contact with an upstream succeeded (1) or failed (0); absent before the first',
      labelNames: ['upstream'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const upstream of sources()?.upstreams ?? []) {
          const state = health.get(upstream).state;
          if (state !== 'unknown') this.set({ upstream }, state === 'up' ? 1 : 0);
        }
      },
    });
    new Gauge({
      name: 'pullthrough_image_pulls',
      help: `Pulls (manifest requests by tag) of the ${TOP_IMAGES} most pulled images since start`,
      labelNames: ['image'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const { name, count } of topImages.top(TOP_IMAGES)) this.set({ image: name }, count);
      },
    });
  }

  attach(sources: MetricSources): void {
    this.sources = sources;
    // Only with a cap: a 0 would read as "full" on a dashboard.
    if (sources.maxBytes !== undefined) {
      new Gauge({ name: 'pullthrough_cache_max_bytes', help: 'Configured cap of the blob store (storage.maxSize)', registers: [this.registry] }).set(sources.maxBytes);
    }
  }

  get maxBytes(): number | undefined {
    return this.sources?.maxBytes;
  }

  /** The persisted totals (all replicas, across restarts), if this mirror keeps them. */
  persistedTotals(): Promise<PersistedTotals> | undefined {
    return this.sources?.stats?.totals();
  }

  /** Each upstream's pull quota (shared by replicas), by upstream name; absent before it sent figures. */
  async quotas(): Promise<Map<string, QuotaStatus>> {
    const found = new Map<string, QuotaStatus>();
    for (const upstream of this.sources?.upstreams ?? []) {
      const status = await this.sources?.quota(upstream);
      if (status) found.set(upstream, status);
    }
    return found;
  }

  /** QuotaPolicy's onHeld. */
  readonly quotaHeld = (upstream: string, outcome: 'served_stale' | 'refused'): void => {
    this.quotaHeldCounter.inc({ upstream, outcome });
  };

  fillsInFlight(): number {
    return this.sources?.fillsInFlight() ?? 0;
  }

  /** The last cache size scan; asks for a fresh one in the background if it is old. */
  cacheSizeView(): { bytes: number; blobs: number; scannedAt: number | undefined } {
    const scanner = this.sources?.cacheSize;
    scanner?.touch();
    return scanner?.view ?? { bytes: 0, blobs: 0, scannedAt: undefined };
  }

  request(served: ServedRequest): void {
    this.requests.inc({ kind: served.kind, method: served.method, cache: served.cache, status_class: statusClass(served.status) });
    if (served.cache !== 'none') {
      const source = FROM_CACHE.has(served.cache) ? 'cache' : 'upstream';
      if (served.bytes > 0) this.servedBytes.inc({ source }, served.bytes);
      if (served.kind !== 'ping') this.traffic.record(source);
    }
    if (served.pulledImage) this.topImages.add(served.pulledImage);
  }

  /** Every upstream response (RegistryClient's onResponse), token requests and redirect hops included. */
  readonly upstreamResponse = (event: UpstreamResponseEvent): void => {
    this.upstreamRequests.inc({ upstream: event.upstream, method: event.method, kind: event.kind, status_class: statusClass(event.status) });
    const reason =
      event.status >= 500 ? 'server_error'
      : event.status === 429 ? 'rate_limited'
      : event.kind === 'token' && (event.status === 401 || event.status === 403) ? 'token_refused'
      : undefined;
    if (reason) {
      this.upstreamErrors.inc({ upstream: event.upstream, reason });
      this.health.failed(event.upstream, `${event.kind} ${event.method}: HTTP ${event.status}`);
    } else {
      this.health.ok(event.upstream);
    }
  };

  upstreamUnreachable(upstream: string, error: unknown): void {
    this.upstreamErrors.inc({ upstream, reason: 'unreachable' });
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
    const detail = cause instanceof Error ? (errorCode(cause) ?? cause.message) : String(cause);
    this.health.failed(upstream, `unreachable: ${detail}`);
  }

  /** One blob or manifest removed from the store (eviction's EvictionMetrics). */
  readonly evicted = (reason: string, bytes: number): void => {
    this.evictions.inc({ reason });
    if (bytes > 0) this.evictedBytes.inc({ reason }, bytes);
  };

  readonly swept = (result: 'done' | 'busy' | 'failed'): void => {
    this.evictionSweeps.inc({ result });
  };

  upstreamFetched(upstream: string, bytes: number): void {
    if (bytes > 0) this.upstreamBytes.inc({ upstream }, bytes);
  }

  async render(): Promise<string> {
    this.sources?.cacheSize.touch();
    return this.registry.metrics();
  }
}

const QUOTA_STATES: readonly QuotaState[] = ['open', 'reserve', 'exhausted', 'limited'];

export function statusClass(status: number): string {
  return `${Math.floor(status / 100)}xx`;
}

function errorCode(error: Error): string | undefined {
  const code = (error as NodeJS.ErrnoException).code;
  return typeof code === 'string' ? `${code} ${error.message}`.trim() : undefined;
}

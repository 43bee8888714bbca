// The figures on the status page, computed from the Prometheus metrics themselves (plus the in-memory
// chart and health views), so every number a person reads matches what /metrics says.

import type { Config } from '../config.ts';
import type { QuotaStatus } from '../cache/quota-policy.ts';
import { FROM_CACHE, type MirrorMetrics, type RequestCache, TOP_IMAGES } from './mirror-metrics.ts';
import type { PersistedTotals, StatCounts } from './persisted-stats.ts';
import type { TopEntry } from './top-counter.ts';
import type { TrafficBar } from './traffic-history.ts';
import type { UpstreamHealthView } from './upstream-health.ts';

export interface UpstreamStatus {
  name: string;
  url: string;
  /** Routes Docker Hub (docker.io) images: by URL or alias host, or named "dockerhub" (as config.ts decides). */
  dockerHub: boolean;
  health: UpstreamHealthView;
  requests: number;
  errors: number;
  /** The pull quota as replicas share it (issue 15); undefined before the upstream sent figures. */
  rateLimit: QuotaStatus | undefined;
}

export interface StatusSummary {
  startedAt: number;
  /** Manifest and blob requests answered from the cache (hit, revalidated, stale). */
  fromCache: number;
  /** Manifest and blob requests that needed an upstream GET. */
  misses: number;
  /** fromCache / (fromCache + misses); undefined before the first such request. */
  hitRatio: number | undefined;
  bytesFromCache: number;
  bytesFromUpstream: number;
  /** Client manifest GETs answered without an upstream manifest GET (Docker Hub counts those as pulls). */
  pullsSaved: number;
  /** Manifest GETs upstreams answered with content (what Docker Hub counts as pulls; 401 challenges are not). */
  upstreamPulls: number;
  /**
   * The same figures kept in the metadata store across restarts, summed over replicas (issue 12, item
   * 15): what the page shows. The ones above are this process's, as /metrics has them.
   */
  totals: (PersistedTotals & { hitRatio: number | undefined }) | undefined;
  cache: { bytes: number; blobs: number; maxBytes: number | undefined; scannedAt: number | undefined };
  fillsInFlight: number;
  upstreams: UpstreamStatus[];
  topImages: TopEntry[];
  traffic: TrafficBar[];
}

const DOCKER_HUB_HOSTS = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

/** This process's figures, from its Prometheus counters: what /metrics says. */
export async function processCounts(metrics: MirrorMetrics): Promise<StatCounts> {
  const requests = (await metrics.requests.get()).values;
  const cacheOf = (labels: Partial<Record<string, string | number>>): RequestCache => String(labels.cache) as RequestCache;
  const isContent = (labels: Partial<Record<string, string | number>>): boolean => labels.kind === 'manifest' || labels.kind === 'blob';
  const served = (await metrics.servedBytes.get()).values;
  const upstreamRequests = (await metrics.upstreamRequests.get()).values;
  const upstreamBytes = (await metrics.upstreamBytes.get()).values;
  return {
    fromCache: sum(requests, (l) => isContent(l) && FROM_CACHE.has(cacheOf(l))),
    misses: sum(requests, (l) => isContent(l) && l.cache === 'miss'),
    bytesFromCache: sum(served, (l) => l.source === 'cache'),
    bytesFromUpstream: sum(upstreamBytes, () => true),
    pullsSaved: sum(requests, (l) => l.kind === 'manifest' && l.method === 'GET' && FROM_CACHE.has(cacheOf(l))),
    upstreamPulls: sum(upstreamRequests, (l) => l.kind === 'manifest' && l.method === 'GET' && l.status_class === '2xx'),
  };
}

export async function summarize(metrics: MirrorMetrics, config: Config): Promise<StatusSummary> {
  const counts = await processCounts(metrics);
  const upstreamRequests = (await metrics.upstreamRequests.get()).values;
  const upstreamErrors = (await metrics.upstreamErrors.get()).values;
  const size = metrics.cacheSizeView();
  const quotas = await metrics.quotas();
  const totals = await metrics.persistedTotals();

  return {
    startedAt: metrics.startedAt,
    ...counts,
    hitRatio: ratio(counts),
    totals: totals && { ...totals, hitRatio: ratio(totals) },
    cache: { ...size, maxBytes: metrics.maxBytes },
    fillsInFlight: metrics.fillsInFlight(),
    upstreams: Object.values(config.upstreams).map((upstream) => ({
      name: upstream.name,
      url: upstream.url,
      dockerHub: upstream.name === 'dockerhub' || [new URL(upstream.url).host, ...upstream.aliases].some((host) => DOCKER_HUB_HOSTS.has(host.toLowerCase())),
      health: metrics.health.get(upstream.name),
      requests: sum(upstreamRequests, (l) => l.upstream === upstream.name),
      errors: sum(upstreamErrors, (l) => l.upstream === upstream.name),
      rateLimit: quotas.get(upstream.name),
    })),
    topImages: metrics.topImages.top(TOP_IMAGES),
    traffic: metrics.traffic.bars({ hours: 6, barMinutes: 10 }),
  };
}

function ratio(counts: Pick<StatCounts, 'fromCache' | 'misses'>): number | undefined {
  return counts.fromCache + counts.misses > 0 ? counts.fromCache / (counts.fromCache + counts.misses) : undefined;
}

function sum(values: ReadonlyArray<{ labels: Partial<Record<string, string | number>>; value: number }>, keep: (labels: Partial<Record<string, string | number>>) => boolean): number {
  return values.reduce((total, { labels, value }) => (keep(labels) ? total + value : total), 0);
}

// The status page at / for a person: is the mirror saving anything, how much pull quota is left (a card
// per upstream that is Docker Hub or has sent rate-limit headers; none otherwise, issue 12), how full is
// the cache, is every upstream healthy, what gets pulled, and traffic over the last hours. It refreshes
// its numbers every REFRESH_SECONDS.
// Every figure comes from summarize(), which reads the same metrics /metrics exports; each carries its
// raw value in data-value so a test (or a curious operator) can compare it with /metrics.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { mayPull } from '../auth/pull-policy.ts';
import { type CachedTag, cachedRepositories, cachedTags, type KeptSize, keptImageSize } from '../cache/cached-catalog.ts';
import { formatBytes } from '../observability/byte-size.ts';
import { type StatusSummary, summarize, type UpstreamStatus } from '../observability/status-summary.ts';
import { type Html, html, page } from './html-page.ts';
import { mirrorAddress } from './mirror-address.ts';
import { pinnedImagesSection } from './pinned-images-section.ts';
import { trafficChart } from './traffic-chart.ts';

const REFRESH_SECONDS = 15;
/** Rows of the cached images table, and how many of the most recently used repositories are read for them. */
const CACHED_ROWS = 12;
const CACHED_REPOSITORIES_READ = 24;

interface CachedImages {
  /** Repositories this client may pull that are cached. */
  repositories: number;
  rows: Array<CachedTag & { kept: KeptSize }>;
}

export async function statusPage(app: FastifyInstance): Promise<void> {
  app.get('/', async (request, reply) => {
    const summary = await summarize(app.mirror.metrics, app.mirror.config);
    const cached = await recentlyCached(app, request);
    const address = mirrorAddress(request);
    return reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .send(page({ title: `pullthrough · ${address.host}`, subtitle: `${address.host} · up ${duration(Date.now() - summary.startedAt)}`, body: body(summary, cached, await pinnedImagesSection(app)), refreshSeconds: REFRESH_SECONDS }));
  });
}

/**
 * The tags most recently fetched or revalidated, of repositories this client may pull (as the catalog
 * decides), with what of each image is kept. Bounded reads: the page refreshes every few seconds.
 */
async function recentlyCached(app: FastifyInstance, request: FastifyRequest): Promise<CachedImages> {
  // The table reads every row's manifests and blobs: at most once per RECENT_TTL_MS per audience, or an
  // open tab (or anyone, without auth) would turn each page view into hundreds of store reads.
  const audience = request.clientAccount === undefined ? 'anonymous' : 'authenticated';
  const memo = recentMemo.get(app.mirror) ?? new Map<string, { at: number; value: Promise<CachedImages> }>();
  recentMemo.set(app.mirror, memo);
  const hit = memo.get(audience);
  if (hit && Date.now() - hit.at < RECENT_TTL_MS) return hit.value;
  const value = readRecentlyCached(app, request);
  memo.set(audience, { at: Date.now(), value });
  value.catch(() => memo.delete(audience));
  return value;
}

const RECENT_TTL_MS = 10_000;
const recentMemo = new WeakMap<object, Map<string, { at: number; value: Promise<CachedImages> }>>();

async function readRecentlyCached(app: FastifyInstance, request: FastifyRequest): Promise<CachedImages> {
  const { config, metadata, store } = app.mirror;
  const repositories = await cachedRepositories(config, metadata, (upstream) => mayPull(request, upstream));
  const recent = [...repositories].sort((a, b) => b.usedAt - a.usedAt).slice(0, CACHED_REPOSITORIES_READ);
  const tags = (await cachedTags(metadata, recent)).slice(0, CACHED_ROWS);
  const rows = await Promise.all(tags.map(async (tag) => ({ ...tag, kept: await keptImageSize(store, tag.digest) })));
  return { repositories: repositories.length, rows };
}

function body(s: StatusSummary, cached: CachedImages, pinned: Html): Html {
  // The headline figures as the metadata store keeps them across restarts (and sums over replicas);
  // /metrics has this process's own.
  const t = s.totals ?? { ...s, since: s.startedAt };
  const since = html` since ${day(t.since)}`;
  return html`
<div class="grid">
${card('Hit ratio', 'hit-ratio', t.hitRatio ?? '', t.hitRatio === undefined ? '—' : percent(t.hitRatio),
  html`${t.fromCache} of ${t.fromCache + t.misses} manifest and blob requests answered from the cache${since}`)}
${card('Bytes saved', 'bytes-saved', t.bytesFromCache, formatBytes(t.bytesFromCache), html`served from the cache · ${formatBytes(t.bytesFromUpstream)} fetched from upstreams${since}`)}
${card('Upstream pulls saved', 'pulls-saved', t.pullsSaved, String(t.pullsSaved), html`manifest GETs answered locally · ${t.upstreamPulls} went upstream${since}`)}
${s.upstreams.filter((u) => u.dockerHub || u.rateLimit).map(quotaCard)}
${cacheCard(s)}
</div>

<section class="card">
<h2>Traffic, last 6 hours</h2>
${trafficChart(s.traffic, 10)}
</section>

<div class="two">
<section class="card">
<h2>Upstreams</h2>
<div class="scroll"><table>
<thead><tr><th>Upstream</th><th class="num">Requests</th><th class="num">Errors</th></tr></thead>
<tbody>${s.upstreams.map(upstreamRow)}</tbody>
</table></div>
</section>

<section class="card">
<h2>Most pulled images</h2>
${s.topImages.length === 0
    ? html`<p class="note">No pulls yet. <a href="/setup/docker">Point a client at the mirror</a> to get started.</p>`
    : html`<table data-metric="top-images"><thead><tr><th>Image</th><th class="num">Pulls</th></tr></thead><tbody>${s.topImages.map((entry) => {
        const [upstream, ...rest] = entry.name.split('/');
        return html`<tr data-image="${entry.name}" data-value="${entry.count}"><td><code>${rest.join('/')}</code> <span class="note">${upstream}</span><div class="bar"><span style="width:${(100 * entry.count / (s.topImages[0]?.count ?? 1)).toFixed(1)}%"></span></div></td><td class="num">${entry.count}</td></tr>`;
      })}</tbody></table>`}
</section>
</div>

<section class="card">
<h2>Cached images</h2>
${cached.rows.length === 0
    ? html`<p class="note">Nothing cached yet: images appear here once pulled through the mirror.</p>`
    : html`<div class="scroll"><table data-metric="cached-images" data-value="${cached.repositories}"><thead><tr><th>Image</th><th>Digest</th><th class="num">Kept</th><th class="num">Last used</th></tr></thead><tbody>${cached.rows.map(
        (row) => html`<tr data-image="${row.name}:${row.tag}"><td><code>${row.repository}:${row.tag}</code> <span class="note">${row.upstream}</span></td><td><code>${row.digest.slice(0, row.digest.indexOf(':') + 13)}</code></td><td class="num" data-value="${row.kept.bytes}">${formatBytes(row.kept.bytes)}${row.kept.complete ? '' : html` <span class="note" title="layers not pulled yet, or evicted">partly</span>`}</td><td class="num">${duration(Date.now() - row.usedAt)} ago</td></tr>`,
      )}</tbody></table></div>
<p class="note">${cached.repositories} repositor${cached.repositories === 1 ? 'y' : 'ies'} cached · the most recently used shown · all of them: <code>pullthrough ls</code> or <a href="/v2/_catalog">/v2/_catalog</a></p>`}
</section>
${pinned}
<footer>Totals since ${day(t.since)} (kept in the metadata store across restarts) · this process up since ${new Date(s.startedAt).toISOString().replace('T', ' ').slice(0, 16)} UTC, counted per process at /metrics · cache size from a background scan${s.cache.scannedAt ? html` ${duration(Date.now() - s.cache.scannedAt)} ago` : ' (pending)'} · ${s.fillsInFlight} download${s.fillsInFlight === 1 ? '' : 's'} in flight · updates every ${REFRESH_SECONDS} s · raw numbers at <a href="/metrics">/metrics</a></footer>
`;
}

function card(title: string, metric: string, value: number | string, shown: string, note: Html, extra: Html | string = '', upstream?: string): Html {
  return html`<div class="card"${upstream ? html` data-upstream="${upstream}"` : ''}><h2>${title}</h2><div class="big" data-metric="${metric}" data-value="${value}">${shown}</div>${extra}<div class="note">${note}</div></div>`;
}

/** Pulls left for an upstream that is Docker Hub or has sent ratelimit-* headers (the caller picks which). */
function quotaCard(u: UpstreamStatus): Html {
  const limit = u.rateLimit;
  const title = u.dockerHub ? 'Docker Hub quota left' : `${u.name} quota left`;
  if (!limit) {
    return card(title, 'quota-remaining', '', '—', html`not reported yet: Docker Hub sends it with each manifest request`, '', u.name);
  }
  const fraction = limit.limit > 0 ? limit.remaining / limit.limit : 0;
  const window = limit.windowSeconds ? ` per ${duration(limit.windowSeconds * 1000)}` : '';
  // Issue 15: when the window resets (estimated) and what the reserve holds back meanwhile.
  const resumes = limit.limitedUntil ?? limit.resetAt;
  const held =
    limit.state === 'limited' ? html` · <b data-quota-state="limited">upstream answered 429: only cached content until ${clock(resumes)}</b>`
    : limit.state === 'exhausted' ? html` · <b data-quota-state="exhausted">spent: only cached content until ${clock(resumes)}</b>`
    : limit.state === 'reserve' ? html` · <b data-quota-state="reserve">at the reserve (${limit.reserve}): changed tags serve their cached digest, prefetch paused until ${clock(resumes)}</b>`
    : html`${limit.reserve > 0 ? ` · reserve ${limit.reserve}` : ''}`;
  const reset = limit.presumedReset ? ' · window reset since (presumed full)' : ` · resets ~${clock(limit.resetAt)}`;
  return card(title, 'quota-remaining', limit.remaining, `${limit.remaining} / ${limit.limit}`,
    html`pulls left${window} · seen ${duration(Date.now() - limit.seenAt)} ago${reset}${held}`,
    html`<div class="bar ${fraction < 0.1 ? 'bad' : fraction < 0.3 ? 'warn' : ''}"><span style="width:${(fraction * 100).toFixed(1)}%"></span></div>`, u.name);
}

/** A time of day, UTC, as the footer writes times. */
function clock(ms: number): string {
  return `${new Date(ms).toISOString().slice(11, 16)} UTC`;
}

function cacheCard(s: StatusSummary): Html {
  const { bytes, blobs, maxBytes } = s.cache;
  if (maxBytes === undefined) {
    return card('Cache', 'cache-bytes', bytes, formatBytes(bytes), html`${blobs} blobs and manifests · no size cap configured`);
  }
  const fraction = Math.min(1, bytes / maxBytes);
  return card('Cache', 'cache-bytes', bytes, formatBytes(bytes), html`${percent(fraction)} of the ${formatBytes(maxBytes)} cap · ${blobs} blobs and manifests`,
    html`<div class="bar ${fraction > 0.95 ? 'bad' : fraction > 0.8 ? 'warn' : ''}"><span style="width:${(fraction * 100).toFixed(1)}%"></span></div>`);
}

function upstreamRow(u: UpstreamStatus): Html {
  const state = u.health.state;
  const label = state === 'up' ? 'healthy' : state === 'down' ? 'failing' : 'not contacted yet';
  const error = u.health.lastError;
  return html`<tr data-upstream="${u.name}" data-state="${state}">
<td><span class="dot ${state}" title="${label}"></span><strong>${u.name}</strong> <span class="note">${new URL(u.url).host} · ${label}</span>
${error ? html`<div class="err">last error ${duration(Date.now() - error.at)} ago: ${error.message}</div>` : ''}</td>
<td class="num">${u.requests}</td><td class="num">${u.errors}</td></tr>`;
}

/** The date of a time, in UTC: "2026-12-03". */
function day(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(fraction >= 0.995 || fraction === 0 ? 0 : 1)}%`;
}

function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  if (s < 86_400) return `${(s / 3600).toFixed(s < 36_000 ? 1 : 0).replace(/\.0$/, '')} h`;
  return `${(s / 86_400).toFixed(1).replace(/\.0$/, '')} d`;
}

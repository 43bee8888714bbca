// The status page at / for a person: is the mirror saving anything, how much pull quota is left (a card
// per upstream that is Docker Hub or has sent rate-limit headers; none otherwise, issue 12), how full is
// the cache, is every upstream healthy, what gets pulled, and traffic over the last hours. It refreshes
// its numbers every REFRESH_SECONDS.
// Every figure comes from summarize(), which reads the same metrics /metrics exports; each carries its
// raw value in data-value so a test (or a curious operator) can compare it with /metrics.

import type { FastifyInstance } from 'fastify';
import { formatBytes } from '../observability/byte-size.ts';
import { type StatusSummary, summarize, type UpstreamStatus } from '../observability/status-summary.ts';
import { type Html, html, page } from './html-page.ts';
import { mirrorAddress } from './mirror-address.ts';
import { pinnedImagesSection } from './pinned-images-section.ts';
import { trafficChart } from './traffic-chart.ts';

const REFRESH_SECONDS = 15;

export async function statusPage(app: FastifyInstance): Promise<void> {
  app.get('/', async (request, reply) => {
    const summary = await summarize(app.mirror.metrics, app.mirror.config);
    const address = mirrorAddress(request);
    return reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .send(page({ title: `pullthrough · ${address.host}`, subtitle: `${address.host} · up ${duration(Date.now() - summary.startedAt)}`, body: body(summary, await pinnedImagesSection(app)), refreshSeconds: REFRESH_SECONDS }));
  });
}

function body(s: StatusSummary, pinned: Html): Html {
  return html`
<div class="grid">
${card('Hit ratio', 'hit-ratio', s.hitRatio ?? '', s.hitRatio === undefined ? '—' : percent(s.hitRatio),
  html`${s.fromCache} of ${s.fromCache + s.misses} manifest and blob requests answered from the cache`)}
${card('Bytes saved', 'bytes-saved', s.bytesFromCache, formatBytes(s.bytesFromCache), html`served from the cache · ${formatBytes(s.bytesFromUpstream)} fetched from upstreams`)}
${card('Upstream pulls saved', 'pulls-saved', s.pullsSaved, String(s.pullsSaved), html`manifest GETs answered locally · ${s.upstreamPulls} went upstream`)}
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
${pinned}
<footer>Counted since ${new Date(s.startedAt).toISOString().replace('T', ' ').slice(0, 16)} UTC (in-memory; a restart starts over) · cache size from a background scan${s.cache.scannedAt ? html` ${duration(Date.now() - s.cache.scannedAt)} ago` : ' (pending)'} · ${s.fillsInFlight} download${s.fillsInFlight === 1 ? '' : 's'} in flight · updates every ${REFRESH_SECONDS} s · raw numbers at <a href="/metrics">/metrics</a></footer>
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

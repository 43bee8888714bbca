// The status page's part for issue 13: the pinned warm set (config prefetch:) with each image's state,
// digest, last refresh and last error, and how many requests the allow/deny rules refused. Figures come
// from the same sources as /metrics (pullthrough_pinned_images, pullthrough_denied_requests_total).

import type { FastifyInstance } from 'fastify';
import { formatBytes } from '../observability/byte-size.ts';
import { deniedTotal } from '../observability/denied-requests.ts';
import type { PinnedImageStatus } from '../prefetch/warm-set.ts';
import { type Html, html } from './html-page.ts';

export async function pinnedImagesSection(app: FastifyInstance): Promise<Html> {
  const denied = await deniedTotal(app.deniedRequests);
  const rules = Object.values(app.mirror.config.upstreams).some((u) => u.allow !== undefined || u.deny.length > 0);
  const entries = app.warmSet.status();
  return html`
<div class="two">
<section class="card">
<h2>Pinned images</h2>
${entries.length === 0
    ? html`<p class="note">None. List images under <code>prefetch:</code> in the config to keep them warm and never evicted.</p>`
    : html`<div class="scroll"><table data-metric="pinned-images"><thead><tr><th>Image</th><th>State</th><th>Digest</th><th>Last refresh</th></tr></thead><tbody>${entries.map(pinnedRow)}</tbody></table></div>`}
</section>
<section class="card">
<h2>Denied requests</h2>
<div class="big" data-metric="denied-requests" data-value="${denied}">${denied}</div>
<div class="note">answered 403 DENIED by an allow/deny rule, with no upstream request${rules ? '' : ' · no rules configured'}</div>
</section>
</div>`;
}

function pinnedRow(e: PinnedImageStatus): Html {
  const platforms = e.walkedPlatforms?.length ? e.walkedPlatforms.join(', ') : e.platforms.join(', ');
  return html`<tr data-image="${e.image}" data-state="${e.state}">
<td><code>${e.image}</code>${platforms ? html` <span class="note">${platforms}</span>` : ''}${e.state === 'warm' || e.lastRefresh ? html`<div class="note">${e.blobs} blobs · ${formatBytes(e.bytes)}</div>` : ''}
${e.lastError ? html`<div class="err" data-error>${ago(e.lastError.at)}: ${e.lastError.message}</div>` : ''}</td>
<td>${e.state}</td>
<td>${e.digest ? html`<code title="${e.digest}">${e.digest.slice(0, 19)}…</code>` : '—'}</td>
<td>${e.lastRefresh ? ago(e.lastRefresh) : 'never'}</td></tr>`;
}

function ago(at: number): string {
  const s = Math.max(0, Math.round((Date.now() - at) / 1000));
  return s < 60 ? `${s} s ago` : s < 3600 ? `${Math.round(s / 60)} min ago` : `${(s / 3600).toFixed(1)} h ago`;
}

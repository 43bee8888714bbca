// The status page's traffic chart: inline SVG, stacked bars of requests answered from the cache and from
// upstream per interval. Drawn on the server; no script, scales with the page width.

import type { TrafficBar } from '../observability/traffic-history.ts';
import { type Html, html } from './html-page.ts';

const WIDTH = 720;
const HEIGHT = 170;
const LEFT = 36;
const BOTTOM = 20;
const TOP = 8;

export function trafficChart(bars: readonly TrafficBar[], barMinutes: number): Html {
  const peak = Math.max(1, ...bars.map((bar) => bar.fromCache + bar.fromUpstream));
  const scaleMax = niceCeiling(peak);
  const plotWidth = WIDTH - LEFT - 4;
  const plotHeight = HEIGHT - TOP - BOTTOM;
  const slot = plotWidth / Math.max(1, bars.length);
  const barWidth = Math.max(1, slot * 0.72);
  const y = (value: number): number => TOP + plotHeight - (value / scaleMax) * plotHeight;
  const rects = bars.map((bar, i) => {
    const x = LEFT + i * slot + (slot - barWidth) / 2;
    const cacheTop = y(bar.fromCache);
    const upstreamTop = y(bar.fromCache + bar.fromUpstream);
    const when = new Date(bar.start).toISOString().slice(11, 16);
    return html`<g><title>${when} UTC, ${barMinutes} min: ${bar.fromCache} from cache, ${bar.fromUpstream} from upstream</title>${
      bar.fromCache > 0 ? html`<rect x="${x.toFixed(1)}" y="${cacheTop.toFixed(1)}" width="${barWidth.toFixed(1)}" height="${(y(0) - cacheTop).toFixed(1)}" fill="var(--accent)" rx="1.5"/>` : ''
    }${
      bar.fromUpstream > 0 ? html`<rect x="${x.toFixed(1)}" y="${upstreamTop.toFixed(1)}" width="${barWidth.toFixed(1)}" height="${(cacheTop - upstreamTop).toFixed(1)}" fill="var(--warn)" rx="1.5"/>` : ''
    }</g>`;
  });
  const hours = (bars.length * barMinutes) / 60;
  const ticks = [0, 0.5, 1].map((fraction) => {
    const x = LEFT + fraction * plotWidth;
    const label = fraction === 1 ? 'now' : `−${Math.round(hours * (1 - fraction))} h`;
    return html`<text x="${x.toFixed(1)}" y="${HEIGHT - 4}" text-anchor="${fraction === 0 ? 'start' : fraction === 1 ? 'end' : 'middle'}">${label}</text>`;
  });
  const total = bars.reduce((sum, bar) => sum + bar.fromCache + bar.fromUpstream, 0);
  return html`<svg viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="Requests over the last ${hours} hours: ${total}" data-total="${total}">
<g fill="var(--muted)" font-size="11" font-family="system-ui,sans-serif">
<text x="${LEFT - 6}" y="${TOP + 9}" text-anchor="end">${scaleMax}</text>
<text x="${LEFT - 6}" y="${y(0)}" text-anchor="end">0</text>
${ticks}
</g>
<line x1="${LEFT}" y1="${y(0)}" x2="${WIDTH - 4}" y2="${y(0)}" stroke="var(--line)"/>
<line x1="${LEFT}" y1="${TOP}" x2="${WIDTH - 4}" y2="${TOP}" stroke="var(--line)" stroke-dasharray="3 4"/>
${rects}
</svg>`;
}

/** 1, 2, 5 × 10^n at or above `value`, so the axis label is a round number. */
function niceCeiling(value: number): number {
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

// The status page's traffic chart: stacked bars of requests answered from the cache and from upstream per
// interval, drawn on the server as inline SVG. Nothing is scaled by a viewBox: horizontal positions are
// percentages of the plot's width and text is in CSS pixels, so labels stay 12 px on a 390 px phone
// (a scaled 720-unit drawing made them 5 px, issue 12). The y axis is its own narrow SVG beside the plot.
// With no traffic at all there is no chart, only a line saying so.

import type { TrafficBar } from '../observability/traffic-history.ts';
import { Html, html } from './html-page.ts';

/** Height of the drawing in CSS px: plot area plus the x-axis labels under it. */
export const CHART_HEIGHT = 150;
const TOP = 8;
const BOTTOM = 22;
const AXIS_WIDTH = 40;
const FONT_ATTRS = new Html('font-size="12" font-family="system-ui,sans-serif"');

export function trafficChart(bars: readonly TrafficBar[], barMinutes: number): Html {
  const hours = (bars.length * barMinutes) / 60;
  const total = bars.reduce((sum, bar) => sum + bar.fromCache + bar.fromUpstream, 0);
  if (total === 0) {
    return html`<p class="note chart-empty" data-total="0">No traffic yet in the last ${hours} hours: bars appear here once clients pull through the mirror.</p>`;
  }
  const peak = Math.max(...bars.map((bar) => bar.fromCache + bar.fromUpstream));
  const { step, max } = axisScale(peak);
  const plotHeight = CHART_HEIGHT - TOP - BOTTOM;
  const y = (value: number): number => TOP + plotHeight - (value / max) * plotHeight;
  const slot = 100 / Math.max(1, bars.length);
  const barWidth = slot * 0.72;
  const rects = bars.map((bar, i) => {
    const x = `${(i * slot + (slot - barWidth) / 2).toFixed(3)}%`;
    const width = `${barWidth.toFixed(3)}%`;
    const cacheTop = y(bar.fromCache);
    const upstreamTop = y(bar.fromCache + bar.fromUpstream);
    const when = new Date(bar.start).toISOString().slice(11, 16);
    return html`<g><title>${when} UTC, ${barMinutes} min: ${bar.fromCache} from cache, ${bar.fromUpstream} from upstream</title>${
      bar.fromCache > 0 ? html`<rect x="${x}" y="${cacheTop.toFixed(1)}" width="${width}" height="${(y(0) - cacheTop).toFixed(1)}" fill="var(--accent)"/>` : ''
    }${
      bar.fromUpstream > 0 ? html`<rect x="${x}" y="${upstreamTop.toFixed(1)}" width="${width}" height="${(cacheTop - upstreamTop).toFixed(1)}" fill="var(--warn)"/>` : ''
    }</g>`;
  });
  const ticks: number[] = [];
  for (let value = 0; value <= max; value += step) ticks.push(value);
  const gridlines = ticks.map((value) =>
    html`<line x1="0" x2="100%" y1="${y(value).toFixed(1)}" y2="${y(value).toFixed(1)}" stroke="var(--line)"${value === 0 ? '' : html` stroke-dasharray="3 4"`}/>`);
  const yLabels = ticks.map((value) => html`<text x="${AXIS_WIDTH - 6}" y="${(y(value) + 4).toFixed(1)}" text-anchor="end">${compact(value)}</text>`);
  const xLabels = [0, 0.5, 1].map((fraction) => {
    const label = fraction === 1 ? 'now' : `−${Math.round(hours * (1 - fraction))} h`;
    const anchor = fraction === 0 ? 'start' : fraction === 1 ? 'end' : 'middle';
    return html`<text x="${fraction * 100}%" y="${CHART_HEIGHT - 5}" text-anchor="${anchor}">${label}</text>`;
  });
  return html`<figure class="chart">
<svg class="chart-axis" width="${AXIS_WIDTH}" height="${CHART_HEIGHT}" aria-hidden="true"><g fill="var(--muted)" ${FONT_ATTRS}>${yLabels}</g></svg>
<svg class="chart-plot" width="100%" height="${CHART_HEIGHT}" role="img" aria-label="Requests over the last ${hours} hours: ${total}" data-total="${total}">
${gridlines}
${rects}
<g fill="var(--muted)" ${FONT_ATTRS}>${xLabels}</g>
</svg>
</figure>
<div class="legend"><span><i style="background:var(--accent)"></i>from cache</span><span><i style="background:var(--warn)"></i>from upstream</span><span>per ${barMinutes} minutes</span></div>`;
}

/**
 * Whole-number ticks for counts: a step of 1, 2 or 5 × 10^n giving three to five intervals up to the peak,
 * and the axis top at the first step at or above it (peak 3 → 0, 1, 2, 3; peak 7 → 0, 2, 4, 6, 8; peak 41 → 0, 10, … 50).
 */
export function axisScale(peak: number): { step: number; max: number } {
  const rough = Math.max(1, peak / 5);
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((candidate) => candidate >= rough) ?? 10 * power;
  return { step, max: Math.max(step, Math.ceil(peak / step) * step) };
}

/** 950, 12k, 1.5M: axis labels that fit the narrow axis. */
function compact(value: number): string {
  if (value >= 1_000_000) return `${+(value / 1_000_000).toFixed(1)}M`;
  if (value >= 10_000) return `${+(value / 1000).toFixed(1)}k`;
  return String(value);
}

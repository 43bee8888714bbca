// Traffic over the last hours for the status page's chart: one bucket per minute, in a fixed ring, so
// memory stays bounded however long the mirror runs. Only the status page reads it; /metrics has the
// counters the chart is drawn from.

const MINUTE_MS = 60_000;

export interface TrafficBar {
  /** Start of the bar (ms since epoch). */
  start: number;
  fromCache: number;
  fromUpstream: number;
}

export class TrafficHistory {
  private readonly minutes: number;
  private readonly fromCache: Float64Array;
  private readonly fromUpstream: Float64Array;
  /** The minute (ms since epoch / 60000) each slot currently holds. */
  private readonly slotMinute: Float64Array;

  constructor(hours = 6) {
    this.minutes = hours * 60;
    this.fromCache = new Float64Array(this.minutes);
    this.fromUpstream = new Float64Array(this.minutes);
    this.slotMinute = new Float64Array(this.minutes).fill(-1);
  }

  record(source: 'cache' | 'upstream', now = Date.now()): void {
    const minute = Math.floor(now / MINUTE_MS);
    const slot = minute % this.minutes;
    if (this.slotMinute[slot] !== minute) {
      this.slotMinute[slot] = minute;
      this.fromCache[slot] = 0;
      this.fromUpstream[slot] = 0;
    }
    const series = source === 'cache' ? this.fromCache : this.fromUpstream;
    series[slot] = (series[slot] ?? 0) + 1;
  }

  /** The last `hours` (at most what is kept) in bars of `barMinutes`, oldest first, the current one last. */
  bars(options: { hours?: number; barMinutes?: number; now?: number } = {}): TrafficBar[] {
    const barMinutes = options.barMinutes ?? 10;
    const spanMinutes = Math.min(this.minutes, (options.hours ?? this.minutes / 60) * 60);
    const nowMinute = Math.floor((options.now ?? Date.now()) / MINUTE_MS);
    // Bars end at the current minute, aligned so the newest bar is the one still filling.
    const lastBarStart = nowMinute - (nowMinute % barMinutes);
    const count = Math.ceil(spanMinutes / barMinutes);
    const bars: TrafficBar[] = [];
    for (let i = count - 1; i >= 0; i--) {
      const startMinute = lastBarStart - i * barMinutes;
      const bar: TrafficBar = { start: startMinute * MINUTE_MS, fromCache: 0, fromUpstream: 0 };
      for (let minute = startMinute; minute < startMinute + barMinutes; minute++) {
        const slot = minute % this.minutes;
        if (minute < 0 || this.slotMinute[slot] !== minute) continue;
        bar.fromCache += this.fromCache[slot] ?? 0;
        bar.fromUpstream += this.fromUpstream[slot] ?? 0;
      }
      bars.push(bar);
    }
    return bars;
  }
}

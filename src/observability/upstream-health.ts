// Each upstream's health as the mirror last saw it: the most recent answer decides (an upstream that
// failed once and answered since is up again), and the last error is kept for the status page.

export interface UpstreamHealthView {
  state: 'up' | 'down' | 'unknown';
  lastOkAt?: number;
  lastError?: { message: string; at: number };
}

export class UpstreamHealth {
  private readonly views = new Map<string, UpstreamHealthView>();

  ok(upstream: string, now = Date.now()): void {
    const view = this.view(upstream);
    view.state = 'up';
    view.lastOkAt = now;
  }

  failed(upstream: string, message: string, now = Date.now()): void {
    const view = this.view(upstream);
    view.state = 'down';
    view.lastError = { message, at: now };
  }

  get(upstream: string): UpstreamHealthView {
    return this.views.get(upstream) ?? { state: 'unknown' };
  }

  private view(upstream: string): UpstreamHealthView {
    let view = this.views.get(upstream);
    if (!view) {
      view = { state: 'unknown' };
      this.views.set(upstream, view);
    }
    return view;
  }
}

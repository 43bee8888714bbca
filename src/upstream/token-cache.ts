// Bearer tokens per scope, kept until shortly before they expire; concurrent requests for the same
// scope share one token request.

export interface CachedToken {
  token: string;
  expiresAt: number;
}

/** Renew this long before the upstream's stated expiry, so a token never dies in flight. */
const EXPIRY_MARGIN_MS = 10_000;

export class TokenCache {
  private readonly tokens = new Map<string, CachedToken>();
  private readonly pending = new Map<string, Promise<string>>();

  get(scope: string, now = Date.now()): string | undefined {
    const cached = this.tokens.get(scope);
    if (!cached) return undefined;
    if (cached.expiresAt - EXPIRY_MARGIN_MS <= now) {
      this.tokens.delete(scope);
      return undefined;
    }
    return cached.token;
  }

  /** Returns the cached token or runs `fetch` once for all concurrent callers of the same scope. */
  async obtain(scope: string, fetch: () => Promise<CachedToken>, options: { refresh?: boolean } = {}): Promise<string> {
    if (!options.refresh) {
      const cached = this.get(scope);
      if (cached) return cached;
    }
    let pending = this.pending.get(scope);
    if (!pending) {
      pending = fetch()
        .then((fetched) => {
          this.tokens.set(scope, fetched);
          return fetched.token;
        })
        .finally(() => this.pending.delete(scope));
      this.pending.set(scope, pending);
    }
    return pending;
  }

  invalidate(scope: string): void {
    this.tokens.delete(scope);
  }
}

// Bearer tokens per scope, kept until shortly before they expire; concurrent requests for the same
// scope share one token request. With a shared store (Redis, for replicas) a token one replica got
// serves them all.

export interface CachedToken {
  token: string;
  expiresAt: number;
}

/** Renew this long before the upstream's stated expiry, so a token never dies in flight. */
const EXPIRY_MARGIN_MS = 10_000;

/** Where replicas share tokens; failures there only mean asking the token service again. */
export interface SharedTokenStore {
  get(scope: string): Promise<CachedToken | undefined>;
  set(scope: string, token: CachedToken): Promise<void>;
}

export class TokenCache {
  /** `shared`: taken from another replica, not yet known to be accepted by the upstream. */
  private readonly tokens = new Map<string, CachedToken & { shared?: boolean }>();
  private readonly pending = new Map<string, Promise<string>>();
  private readonly shared: SharedTokenStore | undefined;

  constructor(shared?: SharedTokenStore) {
    this.shared = shared;
  }

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
      pending = this.fromSharedOr(scope, fetch, options.refresh === true)
        .then((fetched) => {
          this.tokens.set(scope, fetched);
          return fetched.token;
        })
        .finally(() => this.pending.delete(scope));
      this.pending.set(scope, pending);
    }
    return pending;
  }

  /** A still-valid token another replica stored, or a fresh one (which is then shared). */
  private async fromSharedOr(scope: string, fetch: () => Promise<CachedToken>, refresh: boolean): Promise<CachedToken & { shared?: boolean }> {
    if (!this.shared) return fetch();
    if (!refresh) {
      const shared = await this.shared.get(scope).catch(() => undefined);
      if (shared && shared.expiresAt - EXPIRY_MARGIN_MS > Date.now()) return { ...shared, shared: true };
    }
    const fetched = await fetch();
    await this.shared.set(scope, fetched).catch(() => undefined);
    return fetched;
  }

  /** Whether this scope's token came from another replica rather than from this process's own request. */
  isShared(scope: string): boolean {
    return this.tokens.get(scope)?.shared === true;
  }

  invalidate(scope: string): void {
    this.tokens.delete(scope);
  }
}

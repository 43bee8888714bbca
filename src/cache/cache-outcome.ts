/** How a request was answered, logged per request and counted: from the cache, from upstream, or stale. */
export type CacheOutcome = 'hit' | 'miss' | 'revalidated' | 'stale' | 'passthrough';

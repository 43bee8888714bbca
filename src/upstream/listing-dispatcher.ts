// The dispatcher @fastify/reply-from sends the listings passthrough (tags/list, referrers) through: each
// request goes to the pool of the upstream it is for, so a listing gets that upstream's TLS trust (its
// `ca`), its address policy and its non-blob pool (issue 9) instead of a separate, unguarded pool of its own.
// The pools belong to the upstream clients, which close them; closing this closes nothing.

import { Dispatcher } from 'undici';
import type { RegistryClient } from './registry-client.ts';

export class ListingDispatcher extends Dispatcher {
  private readonly byOrigin: ReadonlyMap<string, Dispatcher>;

  constructor(clients: Iterable<RegistryClient>) {
    super();
    this.byOrigin = new Map([...clients].map((client) => [new URL(client.upstream.url).origin, client.listingDispatcher]));
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const origin = options.origin === undefined ? undefined : new URL(String(options.origin)).origin;
    const target = origin === undefined ? undefined : this.byOrigin.get(origin);
    if (!target) {
      // Only configured upstreams are ever contacted: the routes build these URLs from an upstream's own.
      handler.onError?.(new Error(`no configured upstream at ${String(options.origin)}`));
      return true;
    }
    return target.dispatch(options, handler);
  }

  override close(): Promise<void>;
  override close(callback: () => void): void;
  override close(callback?: () => void): Promise<void> | void {
    if (callback) queueMicrotask(callback);
    else return Promise.resolve();
  }

  override destroy(): Promise<void>;
  override destroy(err: Error | null): Promise<void>;
  override destroy(callback: () => void): void;
  override destroy(err: Error | null, callback: () => void): void;
  override destroy(first?: Error | null | (() => void), second?: () => void): Promise<void> | void {
    const callback = typeof first === 'function' ? first : second;
    if (callback) queueMicrotask(callback);
    else return Promise.resolve();
  }
}

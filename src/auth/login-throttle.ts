// Failed logins per client address (issue 9): each password check is a full bcrypt run, so without a
// bound one client could guess passwords, and burn CPU, as fast as it liked. Past `maxFailedLogins`
// failures within `failedLoginWindow` (a fixed window from the first failure), the address is answered
// 429 TOOMANYREQUESTS with Retry-After before any bcrypt work, until its window has passed.
//
// While throttled, the right password from that address is refused too: telling it apart would need the
// very bcrypt check being bounded, and would let a guesser keep guessing. A success never resets a count
// (its own address's or another's): otherwise anyone with one valid account could interleave its
// logins to guess others' passwords without limit; a success only takes back its own provisional count.

import type { FastifyBaseLogger } from 'fastify';
import { RegistryError } from '../errors.ts';

/** Tracked addresses at most (~100 bytes each): an attacker with many addresses cannot grow it further. */
export const MAX_TRACKED_ADDRESSES = 10_000;

interface Window {
  /** When the first failure of this window happened. */
  startedAt: number;
  /** Failures so far, plus attempts being checked right now. */
  failures: number;
}

export class LoginThrottle {
  private readonly maxFailures: number;
  private readonly windowMs: number;
  private readonly maxAddresses: number;
  /** In order of window start (a new window re-inserts), so expired entries are always at the front. */
  private readonly windows = new Map<string, Window>();

  constructor(maxFailures: number, windowMs: number, maxAddresses = MAX_TRACKED_ADDRESSES) {
    this.maxFailures = maxFailures;
    this.windowMs = windowMs;
    this.maxAddresses = maxAddresses;
  }

  /** Addresses tracked right now (for tests and metrics). */
  get size(): number {
    return this.windows.size;
  }

  /**
   * Runs `verify` (a password check) for a login from `address`, unless that address is throttled: then
   * it throws 429 TOOMANYREQUESTS with Retry-After and `verify` is not run.
   */
  async check(address: string, verify: () => Promise<boolean>, log?: FastifyBaseLogger): Promise<boolean> {
    const key = throttleKey(address);
    const now = Date.now();
    const window = this.windowFor(key, now);
    if (window.failures >= this.maxFailures) {
      const retryAfter = Math.max(1, Math.ceil((window.startedAt + this.windowMs - now) / 1000));
      throw new RegistryError('TOOMANYREQUESTS', 'too many failed logins from this address', { headers: { 'retry-after': String(retryAfter) } });
    }
    // Counted before the check: a burst of concurrent attempts cannot all pass while none has failed yet.
    window.failures += 1;
    const ok = await verify();
    if (ok) window.failures -= 1;
    else if (window.failures === this.maxFailures) log?.warn({ address: key, failures: window.failures }, 'failed logins: address throttled');
    return ok;
  }

  private windowFor(key: string, now: number): Window {
    this.dropExpired(now);
    const existing = this.windows.get(key);
    if (existing) return existing;
    if (this.windows.size >= this.maxAddresses) {
      // Full of live windows: forget the oldest (the one closest to expiring anyway).
      const oldest = this.windows.keys().next().value;
      if (oldest !== undefined) this.windows.delete(oldest);
    }
    const window: Window = { startedAt: now, failures: 0 };
    this.windows.set(key, window);
    return window;
  }

  /** Expired windows sit at the front of the map: drop them until the first live one. */
  private dropExpired(now: number): void {
    for (const [key, window] of this.windows) {
      if (window.startedAt + this.windowMs > now) return;
      this.windows.delete(key);
    }
  }
}

/**
 * The unit an address is counted by: IPv4 addresses one by one, IPv6 by their /64 (one host commonly
 * holds a whole /64, so counting single IPv6 addresses would not limit it at all).
 */
export function throttleKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1] as string;
  if (!address.includes(':')) return address;
  const groups = expandIpv6(address);
  return groups ? `${groups.slice(0, 4).join(':')}::/64` : address;
}

/** The eight 16-bit groups of an IPv6 address, or undefined if it is not one. */
function expandIpv6(address: string): string[] | undefined {
  const [head = '', tail, extra] = address.split('%')[0]?.split('::') ?? [];
  if (extra !== undefined) return undefined;
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const missing = 8 - left.length - right.length;
  if (tail === undefined ? missing !== 0 : missing < 1) return undefined;
  const groups = [...left, ...Array<string>(tail === undefined ? 0 : missing).fill('0'), ...right];
  if (!groups.every((group) => /^[0-9a-f]{1,4}$/i.test(group))) return undefined;
  return groups.map((group) => group.toLowerCase().replace(/^0+(?=.)/, ''));
}

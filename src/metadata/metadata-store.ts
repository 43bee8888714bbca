// Metadata kept in Keyv: what a tag pointed at and when that was last checked, and each manifest's media
// type. It is a cache of upstream answers; the blob store stays the truth for content. So a metadata
// backend that is slow or down (Redis restarting) must never hang a pull: every call is bounded and a
// failure reads as "not known" (the request then goes upstream) or as a write skipped.

import { randomUUID } from 'node:crypto';
import type Keyv from 'keyv';
import type { Logger } from '../logger.ts';
import type { CachedToken } from '../upstream/token-cache.ts';

export interface TagRecord {
  digest: string;
  mediaType: string;
  size: number;
  /** When the upstream last confirmed this answer (ms since epoch). */
  checkedAt: number;
}

export interface ManifestRecord {
  mediaType: string;
}

const OPERATION_TIMEOUT_MS = 1500;
const PROBE_TTL_MS = 60_000;

export class MetadataStore {
  private readonly keyv: Keyv;
  private readonly log: Logger;
  private readonly probeKey = `readyz:${randomUUID()}`;

  constructor(keyv: Keyv, log: Logger) {
    this.keyv = keyv;
    this.log = log;
    // Keyv re-emits backend errors (e.g. Redis connection loss); without a listener they would crash.
    keyv.on('error', (error: unknown) => this.log.warn({ err: error }, 'metadata store error'));
  }

  getTag(upstream: string, repository: string, tag: string): Promise<TagRecord | undefined> {
    return this.bounded('get tag', this.keyv.get<TagRecord>(tagKey(upstream, repository, tag)));
  }

  async setTag(upstream: string, repository: string, tag: string, record: TagRecord): Promise<void> {
    await this.bounded('set tag', this.keyv.set(tagKey(upstream, repository, tag), record));
  }

  async deleteTag(upstream: string, repository: string, tag: string): Promise<void> {
    await this.bounded('delete tag', this.keyv.delete(tagKey(upstream, repository, tag)));
  }

  getManifest(digest: string): Promise<ManifestRecord | undefined> {
    return this.bounded('get manifest', this.keyv.get<ManifestRecord>(`manifest:${digest}`));
  }

  async setManifest(digest: string, record: ManifestRecord): Promise<void> {
    await this.bounded('set manifest', this.keyv.set(`manifest:${digest}`, record));
  }

  /** Upstream tokens shared by replicas, kept only as long as they are valid. */
  getToken(upstream: string, scope: string): Promise<CachedToken | undefined> {
    return this.bounded('get token', this.keyv.get<CachedToken>(`token:${upstream}:${scope}`));
  }

  async setToken(upstream: string, scope: string, token: CachedToken): Promise<void> {
    const ttl = token.expiresAt - Date.now();
    if (ttl > 0) await this.bounded('set token', this.keyv.set(`token:${upstream}:${scope}`, token, ttl));
  }

  /**
   * Reachable and answering, for readiness checks. A write read back, because Keyv turns a backend error
   * into "not found" (a plain get of a missing key reads the same whether Redis is up or down). The key
   * is this process's own, so replicas sharing a Redis never read each other's probe.
   */
  async ping(): Promise<boolean> {
    const nonce = randomUUID();
    try {
      await withTimeout(this.keyv.set(this.probeKey, nonce, PROBE_TTL_MS), OPERATION_TIMEOUT_MS);
      return (await withTimeout(this.keyv.get<string>(this.probeKey), OPERATION_TIMEOUT_MS)) === nonce;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await this.keyv.disconnect();
  }

  private async bounded<T>(operation: string, work: Promise<T | undefined>): Promise<T | undefined> {
    try {
      return await withTimeout(work, OPERATION_TIMEOUT_MS);
    } catch (error) {
      this.log.warn({ err: error, operation }, 'metadata store unavailable');
      return undefined;
    }
  }
}

function tagKey(upstream: string, repository: string, tag: string): string {
  return `tag:${upstream}:${repository}:${tag}`;
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

// Embedded Keyv store for when no Redis is configured: an LMDB environment (the `lmdb` package, prebuilt
// native binaries), so the N processes of `workers: N` on one host, and `pullthrough ls` beside them, can
// all open the same metadata at once. LMDB serialises writers with a lock shared by every process that has
// the environment open (released by the kernel if its holder dies), and each reader reads a consistent
// snapshot that writers never block. This needs a local filesystem: the lock lives in shared memory
// (lock.mdb), which NFS and other network filesystems do not provide.
//
// Durability. lmdb-js batches the writes of one event turn into one transaction, committed on its own
// thread; a set/delete resolves once that transaction is committed. With overlappingSync (lmdb's default
// on Linux and macOS, kept here), commit writes the pages into the file through the OS page cache and the
// fsync follows, overlapping the next transaction:
//   - kill -9 (or any crash of the writing process, or of all of them): every resolved write survives. The
//     data is in the kernel's page cache, which outlives the process, and on reopen lmdb uses the latest
//     committed transaction as long as the machine has not rebooted (it compares the boot id).
//   - power loss / kernel crash: the database reopens consistent at the last transaction that was flushed,
//     so writes that resolved in the last few milliseconds before the loss may be gone. That is the trade
//     for not holding the cross-process write lock through an fsync: this is a cache of upstream answers,
//     and a lost tag record costs one revalidation. disconnect() waits for the flush, so a graceful stop
//     loses nothing even to a later power loss. (noSync is not used: it gives up the flush entirely.)
// useVersions is not used: Keyv has no conditional writes; the few read-check-write steps here (delete's
// answer, the expiry sweep, the one-time import) run inside one LMDB write transaction instead, which
// excludes every other writer in every process while it runs.
//
// Layout: a directory (data.mdb + lock.mdb) holding two named databases: `entries` (Keyv's keys, which
// already carry the `namespace:` prefix, to {value, expires}) and `meta` (markers such as the one-time
// import of the old metadata.log), so a clear() of every entry never forgets that the import happened.
// Expiry is absolute (ms since epoch), so it means the same after a restart and in every process; expired
// entries are never returned, and are removed by a sweep at open and every few minutes. Keys are limited
// to 1978 bytes of UTF-8 (LMDB's key size); the mirror's keys are names, tags and digests, far below it.

import { EventEmitter } from 'node:events';
import { mkdir, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { open, type Database, type RootDatabase } from 'lmdb';
import type { KeyvStoreAdapter, StoredData } from 'keyv';

export interface StoredEntry {
  /** What Keyv handed over: its serialized string, or a JSON value when set directly on the adapter. */
  value: unknown;
  /** Absolute expiry (ms since epoch); absent = never. */
  expires?: number;
}

export interface LmdbStoreOptions {
  /** Open for reading only (`pullthrough ls` beside running servers): every mutation rejects. The database must exist. */
  readOnly?: boolean;
  /** How often expired entries are removed; 0 = only at open. */
  sweepIntervalMs?: number;
}

const DEFAULT_SWEEP_INTERVAL_MS = 10 * 60_000;

export class LmdbStore extends EventEmitter implements KeyvStoreAdapter {
  /** Keyv assigns this; keys it passes already carry the `namespace:` prefix. */
  namespace: string | undefined;
  // Keyv only wires up its own iterator for dialects it knows, but it calls `opts.url.includes`
  // on any store that has an iterator, so url must be a string.
  readonly opts: { dialect: 'lmdb'; url: string };

  private readonly root: RootDatabase;
  private readonly entries: Database<StoredEntry, string>;
  private readonly meta: Database<unknown, string>;
  private readonly readOnly: boolean;
  private readonly sweepTimer: NodeJS.Timeout | undefined;
  private sweeping: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(readonly path: string, root: RootDatabase, readOnly: boolean, sweepIntervalMs: number) {
    super();
    this.root = root;
    this.readOnly = readOnly;
    // Plain MessagePack maps (no records), decoded as objects: every entry decodes on its own, in any
    // process, with no structure table that processes would have to agree on. (lmdb reads `encoder` per
    // database, though its types only declare it for the root.)
    const dbOptions = { encoder: { useRecords: false, mapsAsObjects: true } };
    this.entries = root.openDB<StoredEntry, string>({ name: 'entries', ...dbOptions });
    this.meta = root.openDB<unknown, string>({ name: 'meta', ...dbOptions });
    this.opts = { dialect: 'lmdb', url: pathToFileURL(path).href };
    if (!readOnly && sweepIntervalMs > 0) {
      this.sweepTimer = setInterval(() => void this.sweepInBackground(), sweepIntervalMs);
      this.sweepTimer.unref();
    }
  }

  static async open(path: string, opts: LmdbStoreOptions = {}): Promise<LmdbStore> {
    const fullPath = resolve(path);
    const readOnly = opts.readOnly ?? false;
    // lmdb would create an empty environment (or fail obscurely when read-only); a reader must not.
    if (readOnly) await stat(fullPath);
    // Only the mirror's user may read it: it holds upstream tokens the workers share (and, behind an
    // nginx offload front, nothing of the store but blobs/ is meant to be readable by others).
    else await mkdir(fullPath, { recursive: true, mode: 0o700 });
    const root = open({
      path: fullPath,
      // A directory, not a file: data.mdb and its lock.mdb stay together (one thing to back up or remove).
      noSubdir: false,
      readOnly,
      maxDbs: 4,
      // Asynchronous writes and transactions commit in the order they were called, so a delete then a set
      // of the same key in one event turn ends with the value set, as it would with Redis.
      strictAsyncOrder: true,
    });
    try {
      const store = new LmdbStore(fullPath, root, readOnly, opts.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS);
      if (!readOnly) await store.sweepExpired();
      return store;
    } catch (error) {
      await root.close();
      throw error;
    }
  }

  async get<Value>(key: string): Promise<StoredData<Value> | undefined> {
    this.latest();
    return this.live(key)?.value as StoredData<Value> | undefined;
  }

  async getMany<Value>(keys: string[]): Promise<Array<StoredData<Value | undefined>>> {
    this.latest();
    return keys.map((key) => this.live(key)?.value as Value | undefined);
  }

  async has(key: string): Promise<boolean> {
    this.latest();
    return this.live(key) !== undefined;
  }

  async hasMany(keys: string[]): Promise<boolean[]> {
    this.latest();
    return keys.map((key) => this.live(key) !== undefined);
  }

  /** `ttl` in milliseconds; 0 or undefined means no expiry (as in Keyv). Resolves once committed. */
  async set(key: string, value: unknown, ttl?: number): Promise<boolean> {
    this.assertWritable();
    const expires = typeof ttl === 'number' && Number.isFinite(ttl) && ttl !== 0 ? Date.now() + ttl : undefined;
    return this.entries.put(key, toEntry(key, value, expires));
  }

  // No setMany on purpose: the adapter interface types it as Promise<void>, and Keyv passes that
  // straight back from keyv.setMany; without it Keyv calls set() per entry and returns booleans.
  // Those sets still share one transaction, since lmdb batches the writes of one event turn.

  /** True if the key held a live entry. */
  async delete(key: string): Promise<boolean> {
    return this.deleteMany([key]);
  }

  /** True only if every key held a live entry, matching Keyv's own fallback for stores without deleteMany. */
  async deleteMany(keys: string[]): Promise<boolean> {
    this.assertWritable();
    return this.entries.transaction(() => {
      const now = Date.now();
      let all = true;
      for (const key of keys) {
        const entry = this.entries.get(key);
        if (entry === undefined || isExpired(entry, now)) all = false;
        if (entry !== undefined) void this.entries.remove(key);
      }
      return all;
    });
  }

  /** Clears only this store's namespace when Keyv has set one, like the Redis adapter. */
  async clear(): Promise<void> {
    this.assertWritable();
    const prefix = this.namespace ? `${this.namespace}:` : undefined;
    if (prefix === undefined) {
      await this.entries.clearAsync();
      return;
    }
    await this.entries.transaction(() => {
      // Collected first: removing while a cursor walks the same range would move it.
      const keys = [...withPrefix(this.entries, prefix)].map(({ key }) => key);
      for (const key of keys) void this.entries.remove(key);
    });
  }

  async *iterator<Value>(namespace?: string): AsyncGenerator<Array<string | Awaited<Value> | undefined>, void> {
    const prefix = namespace ? `${namespace}:` : '';
    // Read whole before yielding, so no read snapshot stays open while the caller awaits between items.
    const now = Date.now();
    const live: Array<[string, unknown]> = [];
    for (const { key, value } of withPrefix(this.entries, prefix)) {
      if (!isExpired(value, now)) live.push([key, value.value]);
    }
    for (const [key, value] of live) yield [key, value as Awaited<Value>];
  }

  /**
   * Writes `entries` and the marker `name` (holding `record`) in one transaction, unless the marker is
   * already there: the check and the writes exclude every other writer, so of several processes that
   * start at once exactly one imports. True if this call imported. Resolves only once the transaction is
   * flushed to disk, so that what was imported from can be moved aside without a power loss undoing both.
   */
  async importOnce(name: string, entries: ReadonlyMap<string, StoredEntry>, record: unknown): Promise<boolean> {
    this.assertWritable();
    const imported = await this.root.transaction(() => {
      if (this.meta.get(name) !== undefined) return false;
      for (const [key, entry] of entries) void this.entries.put(key, entry);
      void this.meta.put(name, record);
      return true;
    });
    await this.root.flushed;
    return imported;
  }

  /**
   * Puts every transaction committed so far — this process's and other processes' — on disk: a small
   * write of our own, then the wait for its flush, which syncs the whole data file.
   */
  async syncToDisk(): Promise<void> {
    this.assertWritable();
    await this.meta.put('last-sync', Date.now());
    await this.root.flushed;
  }

  /** A marker written by importOnce, or undefined. */
  marker(name: string): unknown {
    return this.meta.get(name);
  }

  /** Removes expired entries; returns how many. Anything rewritten meanwhile (by any process) is kept. */
  async sweepExpired(): Promise<number> {
    this.assertWritable();
    const now = Date.now();
    const expired: string[] = [];
    for (const { key, value } of withPrefix(this.entries, '')) if (isExpired(value, now)) expired.push(key);
    if (expired.length === 0) return 0;
    // Scanned outside the write lock; checked again inside it.
    return this.entries.transaction(() => {
      let removed = 0;
      for (const key of expired) {
        const entry = this.entries.get(key);
        if (entry !== undefined && isExpired(entry, Date.now())) {
          void this.entries.remove(key);
          removed++;
        }
      }
      return removed;
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweepTimer);
    await this.sweeping;
    // Committed writes already survive a crash of this process; waiting for the flush makes a graceful
    // stop durable against power loss too.
    if (!this.readOnly) await this.root.flushed;
    await this.root.close();
  }

  async disconnect(): Promise<void> {
    await this.close();
  }

  /**
   * The next read sees every transaction committed so far, by any process. lmdb keeps reading one
   * snapshot until a timer renews it, so a read right after another one — a worker polling for the tag
   * answer another worker is about to write, or acknowledging a delete — could otherwise see the state
   * from before; starting the next read from the current state costs about a microsecond.
   */
  private latest(): void {
    this.root.resetReadTxn();
  }

  private live(key: string): StoredEntry | undefined {
    const entry = this.entries.get(key);
    // Left for the sweep to remove: a read never waits for the write lock.
    return entry === undefined || isExpired(entry, Date.now()) ? undefined : entry;
  }

  private sweepInBackground(): void {
    if (this.closed) return;
    this.sweeping = this.sweepExpired().catch((error: unknown) => this.emit('error', error));
  }

  private assertWritable(): void {
    if (this.closed) throw new Error(`LmdbStore ${this.path} is closed`);
    if (this.readOnly) throw new Error(`LmdbStore ${this.path} is open read-only`);
  }
}

function toEntry(key: string, value: unknown, expires: number | undefined): StoredEntry {
  let stored: unknown = value;
  // Keyv's default serializer hands us strings; anything else is kept in its JSON form, so a value read
  // back is the same in every process and after every restart (a Date reads back as its ISO string).
  if (typeof value !== 'string') {
    const json = JSON.stringify(value);
    // Without this, undefined/functions/symbols would be stored as an entry with no value.
    if (json === undefined) throw new TypeError(`LmdbStore: value for ${key} is not JSON-serialisable`);
    stored = JSON.parse(json) as unknown;
  }
  return expires === undefined ? { value: stored } : { value: stored, expires };
}

function isExpired(entry: StoredEntry, now: number): boolean {
  return entry.expires !== undefined && entry.expires <= now;
}

function* withPrefix(db: Database<StoredEntry, string>, prefix: string): Generator<{ key: string; value: StoredEntry }> {
  // Keys sort by their UTF-8 bytes, so those sharing a prefix are contiguous from the prefix on.
  for (const entry of db.getRange(prefix === '' ? {} : { start: prefix })) {
    if (!entry.key.startsWith(prefix)) return;
    yield entry;
  }
}

// Embedded Keyv store for when no Redis is configured: reads come from an in-memory Map, and every
// mutation is appended as one JSON line to a log file, so the data survives restarts without a
// native dependency.
//
// Durability model: appends are not fsynced (this holds cache metadata; losing the last few ms on
// power loss is acceptable), but the file is never left in a state that loses older data. A crash
// mid-append can only tear the final line, which replay ignores and truncates away. Compaction
// writes a complete snapshot to a temp file, fsyncs it and renames it over the log, so at any
// instant the path names either the old complete log or the new complete one.
//
// Exactly one process may own a log file at a time: each process only knows its own memory, so
// its compaction would discard the other's writes, and its start-up cleanup would delete the
// other's compaction temp file. Nothing here locks the file; the deployment must ensure one owner.

import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { KeyvStoreAdapter, StoredData } from 'keyv';

export interface FileLogStoreOptions {
  /** Told about skipped log lines and failed compactions; defaults to process.emitWarning. */
  onWarning?: (msg: string) => void;
  /** The log is compacted only once it holds more than this many records (and > 2× live entries). */
  compactMinEntries?: number;
}

interface Entry {
  value: unknown;
  /** Absolute expiry (ms since epoch); absolute so it means the same after a restart. */
  expires?: number;
}

type LogRecord =
  | { op: 'set'; key: string; value: unknown; expires?: number }
  | { op: 'del'; key: string }
  | { op: 'clear'; prefix?: string };

interface PendingAppend {
  line: string;
  resolve: () => void;
  reject: (error: unknown) => void;
}

const DEFAULT_COMPACT_MIN_ENTRIES = 1000;
const NEWLINE = 0x0a;
const TEMP_MARKER = '.compact-';

export class FileLogStore extends EventEmitter implements KeyvStoreAdapter {
  /** Keyv assigns this; keys it passes already carry the `namespace:` prefix. */
  namespace: string | undefined;
  // Keyv only wires up its own iterator for dialects it knows, but it calls `opts.url.includes`
  // on any store that has an iterator, so url must be a string.
  readonly opts: { dialect: 'file-log'; url: string; compactMinEntries: number };

  private readonly entries = new Map<string, Entry>();
  private readonly warn: (msg: string) => void;
  private handle: FileHandle;
  /** Bytes known to be fully written; a failed append is truncated back to this. */
  private fileSize: number;
  /** Records in the file (including skipped garbage), compared with live entries to decide on compaction. */
  private logRecords: number;
  private pending: PendingAppend[] = [];
  private writerActive = false;
  private writerDone: Promise<void> = Promise.resolve();
  /** Set after a failed append: memory is ahead of the file until a snapshot rewrites it. */
  private needsRewrite = false;
  /** Backs off compaction retries so a full disk does not trigger a snapshot per batch. */
  private nextCompactionAt = 0;
  private closed = false;

  private constructor(
    readonly path: string,
    handle: FileHandle,
    fileSize: number,
    logRecords: number,
    compactMinEntries: number,
    warn: (msg: string) => void,
  ) {
    super();
    this.handle = handle;
    this.fileSize = fileSize;
    this.logRecords = logRecords;
    this.warn = warn;
    this.opts = { dialect: 'file-log', url: pathToFileURL(path).href, compactMinEntries };
  }

  static async open(path: string, opts: FileLogStoreOptions = {}): Promise<FileLogStore> {
    const fullPath = resolve(path);
    const warn = opts.onWarning ?? ((msg: string) => process.emitWarning(msg, 'FileLogStoreWarning'));
    const compactMinEntries = opts.compactMinEntries ?? DEFAULT_COMPACT_MIN_ENTRIES;
    await mkdir(dirname(fullPath), { recursive: true });
    await removeStaleTempFiles(fullPath, warn);

    const contents = await readLog(fullPath);
    const { entries, logRecords, complete, tailAction } = replay(contents, fullPath, warn, Date.now());

    const handle = await open(fullPath, 'a');
    let fileSize = contents.length;
    try {
      // Appending after a torn line would glue the next record onto it and lose both.
      if (tailAction === 'truncate') {
        await handle.truncate(complete.length);
        fileSize = complete.length;
      } else if (tailAction === 'terminate') {
        await writeAll(handle, Buffer.from('\n'));
        fileSize += 1;
      }
    } catch (error) {
      await handle.close();
      throw error;
    }

    const store = new FileLogStore(fullPath, handle, fileSize, logRecords, compactMinEntries, warn);
    for (const [key, entry] of entries) store.entries.set(key, entry);
    if (store.shouldCompact()) {
      try {
        await store.compact();
      } catch (error) {
        warn(`${fullPath}: compaction at open failed, continuing with the existing log: ${describe(error)}`);
      }
    }
    return store;
  }

  /**
   * The live entries (raw values, as Keyv stored them) of a log that another process owns, for a reader
   * such as `pullthrough ls`: read once, nothing written, truncated, compacted or removed.
   */
  static async readLive(path: string): Promise<Map<string, unknown>> {
    const fullPath = resolve(path);
    const { entries } = replay(await readLog(fullPath), fullPath, () => undefined, Date.now());
    return new Map([...entries].map(([key, entry]) => [key, entry.value]));
  }

  async get<Value>(key: string): Promise<StoredData<Value> | undefined> {
    const entry = this.live(key);
    return entry === undefined ? undefined : (entry.value as Value);
  }

  async getMany<Value>(keys: string[]): Promise<Array<StoredData<Value | undefined>>> {
    return keys.map((key) => this.live(key)?.value as Value | undefined);
  }

  async has(key: string): Promise<boolean> {
    return this.live(key) !== undefined;
  }

  async hasMany(keys: string[]): Promise<boolean[]> {
    return keys.map((key) => this.live(key) !== undefined);
  }

  /** `ttl` in milliseconds; 0 or undefined means no expiry (as in Keyv). Resolves once the line is written. */
  async set(key: string, value: unknown, ttl?: number): Promise<boolean> {
    this.assertOpen();
    const expires = typeof ttl === 'number' && Number.isFinite(ttl) && ttl !== 0 ? Date.now() + ttl : undefined;
    const { line, entry } = encodeSet(key, value, expires);
    this.entries.set(key, entry);
    await this.enqueue(line);
    return true;
  }

  // No setMany on purpose: the adapter interface types it as Promise<void>, and Keyv passes that
  // straight back from keyv.setMany; without it Keyv calls set() per entry and returns booleans.
  // Those sets still share one write, since the writer batches whatever is queued.

  async delete(key: string): Promise<boolean> {
    this.assertOpen();
    if (this.live(key) === undefined) return false;
    this.entries.delete(key);
    await this.enqueue(JSON.stringify({ op: 'del', key } satisfies LogRecord));
    return true;
  }

  /** True only if every key existed, matching Keyv's own fallback for stores without deleteMany. */
  async deleteMany(keys: string[]): Promise<boolean> {
    const results = await Promise.all(keys.map((key) => this.delete(key)));
    return results.every(Boolean);
  }

  /** Clears only this store's namespace when Keyv has set one, like the Redis adapter. */
  async clear(): Promise<void> {
    this.assertOpen();
    const prefix = this.namespace ? `${this.namespace}:` : undefined;
    clearEntries(this.entries, prefix);
    const record: LogRecord = prefix === undefined ? { op: 'clear' } : { op: 'clear', prefix };
    await this.enqueue(JSON.stringify(record));
  }

  async *iterator<Value>(namespace?: string): AsyncGenerator<Array<string | Awaited<Value> | undefined>, void> {
    const prefix = namespace ? `${namespace}:` : undefined;
    // Copy first: callers commonly delete while iterating, and the Map may change between yields.
    const keys = [...this.entries.keys()];
    for (const key of keys) {
      if (prefix !== undefined && !key.startsWith(prefix)) continue;
      const entry = this.live(key);
      if (entry !== undefined) yield [key, entry.value as Awaited<Value>];
    }
  }

  /** Resolves when every append queued before (or while) it was called has been written. */
  async flush(): Promise<void> {
    while (this.writerActive) await this.writerDone;
  }

  async close(): Promise<void> {
    if (this.closed) {
      await this.flush();
      return;
    }
    this.closed = true;
    await this.flush();
    await this.handle.close();
  }

  async disconnect(): Promise<void> {
    await this.close();
  }

  /** Number of live (unexpired) entries; expired ones are dropped as a side effect. */
  get size(): number {
    const now = Date.now();
    for (const [key, entry] of this.entries) {
      if (isExpired(entry, now)) this.entries.delete(key);
    }
    return this.entries.size;
  }

  private live(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (isExpired(entry, Date.now())) {
      // No log record needed: replay sees the same absolute expiry and drops it too.
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error(`FileLogStore ${this.path} is closed`);
  }

  private enqueue(line: string): Promise<void> {
    return new Promise<void>((resolvePromise, rejectPromise) => {
      this.pending.push({ line, resolve: resolvePromise, reject: rejectPromise });
      if (!this.writerActive) {
        this.writerActive = true;
        this.writerDone = this.runWriter();
      }
    });
  }

  // One writer drains the queue in batches, so lines reach the file in exactly the order the
  // mutations were applied to memory, and a burst of sets costs one write call.
  private async runWriter(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const batch = this.pending;
        this.pending = [];
        const data = Buffer.from(batch.map((p) => `${p.line}\n`).join(''), 'utf8');
        try {
          await writeAll(this.handle, data);
          this.fileSize += data.length;
          this.logRecords += batch.length;
          for (const p of batch) p.resolve();
        } catch (error) {
          await this.recoverFromFailedAppend(error);
          for (const p of batch) p.reject(error);
        }
        if ((this.needsRewrite || this.shouldCompact()) && this.logRecords >= this.nextCompactionAt) {
          try {
            await this.compact();
          } catch (error) {
            this.nextCompactionAt = this.logRecords + this.opts.compactMinEntries;
            this.warn(`${this.path}: compaction failed, will retry later: ${describe(error)}`);
          }
        }
      }
    } finally {
      // Cleared in the same microtask as the final empty-queue check, so enqueue never sees a
      // writer that has stopped looking.
      this.writerActive = false;
    }
  }

  private async recoverFromFailedAppend(error: unknown): Promise<void> {
    this.needsRewrite = true;
    try {
      // Part of the batch may have landed; cut it so the next append starts on a fresh line.
      await this.handle.truncate(this.fileSize);
    } catch (truncateError) {
      this.warn(`${this.path}: append failed (${describe(error)}) and truncating the partial write failed too: ${describe(truncateError)}`);
    }
  }

  private shouldCompact(): boolean {
    return this.logRecords > this.opts.compactMinEntries && this.logRecords > 2 * this.entries.size;
  }

  private async compact(): Promise<void> {
    // Snapshot synchronously; mutations made while this awaits are queued and appended to the
    // new file afterwards. Any queued lines already reflected here replay idempotently.
    const now = Date.now();
    const lines: string[] = [];
    for (const [key, entry] of this.entries) {
      if (isExpired(entry, now)) {
        this.entries.delete(key);
        continue;
      }
      lines.push(encodeSetLine(key, entry));
    }
    const data = Buffer.from(lines.map((line) => `${line}\n`).join(''), 'utf8');

    const dir = dirname(this.path);
    const tempPath = join(dir, `${basename(this.path)}${TEMP_MARKER}${process.pid}-${randomUUID()}.tmp`);
    // Opened for append and kept: after the rename this descriptor already refers to the log,
    // so there is no window in which the store has no writable handle.
    const next = await open(tempPath, 'ax');
    try {
      await writeAll(next, data);
      await next.sync();
      await rename(tempPath, this.path);
    } catch (error) {
      await next.close().catch(() => undefined);
      await unlink(tempPath).catch(() => undefined);
      throw error;
    }
    await syncDirectory(dir);

    const previous = this.handle;
    this.handle = next;
    this.fileSize = data.length;
    this.logRecords = lines.length;
    this.needsRewrite = false;
    this.nextCompactionAt = 0;
    await previous.close().catch((error: unknown) => this.warn(`${this.path}: closing the pre-compaction log failed: ${describe(error)}`));
  }
}

function encodeSet(key: string, value: unknown, expires: number | undefined): { line: string; entry: Entry } {
  let stored: unknown = value;
  // Keyv's default serializer hands us strings; anything else is kept as it will read back after a
  // restart, so a read does not change behaviour across one.
  if (typeof value !== 'string') {
    const json = JSON.stringify(value);
    // Without this, undefined/functions/symbols would be written as a record with no value.
    if (json === undefined) throw new TypeError(`FileLogStore: value for ${key} is not JSON-serialisable`);
    stored = JSON.parse(json) as unknown;
  }
  const entry: Entry = expires === undefined ? { value: stored } : { value: stored, expires };
  return { line: encodeSetLine(key, entry), entry };
}

function encodeSetLine(key: string, entry: Entry): string {
  const record: LogRecord =
    entry.expires === undefined ? { op: 'set', key, value: entry.value } : { op: 'set', key, value: entry.value, expires: entry.expires };
  return JSON.stringify(record);
}

function applyRecord(entries: Map<string, Entry>, record: LogRecord, now: number): void {
  switch (record.op) {
    case 'set': {
      const entry: Entry = record.expires === undefined ? { value: record.value } : { value: record.value, expires: record.expires };
      // An expired set still overrides whatever came before it for that key.
      if (isExpired(entry, now)) entries.delete(record.key);
      else entries.set(record.key, entry);
      return;
    }
    case 'del':
      entries.delete(record.key);
      return;
    case 'clear':
      clearEntries(entries, record.prefix);
      return;
  }
}

function clearEntries(entries: Map<string, Entry>, prefix: string | undefined): void {
  if (prefix === undefined) {
    entries.clear();
    return;
  }
  for (const key of entries.keys()) {
    if (key.startsWith(prefix)) entries.delete(key);
  }
}

// fatal: a line with bytes that are not UTF-8 is damaged; decoding it leniently could turn it into
// valid JSON with a silently altered value.
const utf8 = new TextDecoder('utf-8', { fatal: true });

function parseRecord(line: Uint8Array): LogRecord | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8.decode(line));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const record = parsed as Record<string, unknown>;
  switch (record.op) {
    case 'set': {
      if (typeof record.key !== 'string' || !('value' in record)) return undefined;
      if (record.expires === undefined) return { op: 'set', key: record.key, value: record.value };
      if (typeof record.expires !== 'number' || !Number.isFinite(record.expires)) return undefined;
      return { op: 'set', key: record.key, value: record.value, expires: record.expires };
    }
    case 'del':
      return typeof record.key === 'string' ? { op: 'del', key: record.key } : undefined;
    case 'clear':
      if (record.prefix === undefined) return { op: 'clear' };
      return typeof record.prefix === 'string' ? { op: 'clear', prefix: record.prefix } : undefined;
    default:
      return undefined;
  }
}

function isExpired(entry: Entry, now: number): boolean {
  return entry.expires !== undefined && entry.expires <= now;
}

function isBlank(bytes: Uint8Array): boolean {
  // Whitespace, plus NULs: some filesystems expose a crash as a zero-filled extent.
  return bytes.every((b) => b === 0x20 || b === 0x09 || b === 0x0d || b === 0x00);
}

async function writeAll(handle: FileHandle, data: Buffer): Promise<void> {
  let offset = 0;
  while (offset < data.length) {
    const { bytesWritten } = await handle.write(data, offset, data.length - offset);
    offset += bytesWritten;
  }
}

async function syncDirectory(dir: string): Promise<void> {
  // Makes the rename itself durable. Not every platform can open or fsync a directory (Windows);
  // there the rename is still atomic, just not guaranteed to survive power loss.
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // best effort, see above
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

async function removeStaleTempFiles(path: string, warn: (msg: string) => void): Promise<void> {
  // Left behind only by a crash during compaction, when the rename never happened; the log is intact.
  const prefix = `${basename(path)}${TEMP_MARKER}`;
  const dir = dirname(path);
  for (const name of await readdir(dir)) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
    await unlink(join(dir, name)).catch((error: unknown) => warn(`could not remove stale ${name}: ${describe(error)}`));
  }
}

function isErrno(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && error.code === code;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function readLog(fullPath: string): Promise<Buffer> {
  try {
    return await readFile(fullPath);
  } catch (error) {
    if (!isErrno(error, 'ENOENT')) throw error;
    return Buffer.alloc(0);
  }
}

/** Replays a log's records into entries (expired ones left out) and says what to do with a last line without its newline. */
function replay(
  contents: Buffer,
  fullPath: string,
  warn: (msg: string) => void,
  now: number,
): { entries: Map<string, Entry>; logRecords: number; complete: Buffer; tailAction: 'none' | 'terminate' | 'truncate' } {
  const entries = new Map<string, Entry>();
  const lastNewline = contents.lastIndexOf(NEWLINE);
  const complete = contents.subarray(0, lastNewline + 1);
  const tail = contents.subarray(lastNewline + 1);
  let logRecords = 0;
  let start = 0;
  let lineNumber = 0;
  while (start < complete.length) {
    const end = complete.indexOf(NEWLINE, start);
    const line = complete.subarray(start, end);
    start = end + 1;
    lineNumber++;
    if (isBlank(line)) continue;
    logRecords++;
    const record = parseRecord(line);
    if (record === undefined) {
      warn(`${fullPath}:${lineNumber}: skipping unparsable log line (${line.length} bytes)`);
      continue;
    }
    applyRecord(entries, record, now);
  }

  // A line without its newline is what a crash mid-append leaves. If it still parses it is a
  // whole record that only lost the newline (a proper prefix of a JSON object never parses).
  let tailAction: 'none' | 'terminate' | 'truncate' = 'none';
  if (tail.length > 0) {
    const record = isBlank(tail) ? undefined : parseRecord(tail);
    if (record === undefined) {
      tailAction = 'truncate';
      warn(`${fullPath}: ignoring torn last line (${tail.length} bytes), probably from a crash mid-write`);
    } else {
      tailAction = 'terminate';
      logRecords++;
      applyRecord(entries, record, now);
    }
  }
  return { entries, logRecords, complete, tailAction };
}

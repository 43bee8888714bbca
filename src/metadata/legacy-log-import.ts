// The metadata.log of earlier versions (an append-only log of JSON lines, one process at a time), read
// once and carried into the LMDB store on the first start of this version, then renamed aside:
//
//   {"op":"set","key":"pullthrough:…","value":<Keyv's serialized string, or a JSON value>,"expires":<ms since epoch>?}
//   {"op":"del","key":"…"}
//   {"op":"clear","prefix":"pullthrough:"?}
//
// Replaying the records in order gives the entries; expiries were absolute already, so they carry over as
// they are and entries already expired are left behind. The last line may be torn (a crash mid-append
// wrote part of it) and damaged lines may sit in the middle: both are skipped with a warning, as the old
// store did when it opened the log.

import { readFile, rename, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { LmdbStore, StoredEntry } from './lmdb-store.ts';

type LogRecord =
  | { op: 'set'; key: string; value: unknown; expires?: number }
  | { op: 'del'; key: string }
  | { op: 'clear'; prefix?: string };

export interface LegacyImportResult {
  /** What happened to the log: imported here, imported earlier (by another process or start), or none there. */
  outcome: 'imported' | 'already-imported' | 'no-log';
  /** Live entries written (0 unless imported). */
  entries: number;
  /** Where the log was moved, if this call moved it. */
  renamedTo?: string;
}

/** The marker in the store's meta database: present once a log has been imported. */
const MARKER = 'legacy-metadata-log-import';
const NEWLINE = 0x0a;

/**
 * Imports `logPath` into `store` unless an import already happened (in any process: the marker is written
 * in the same transaction as the entries), then renames the log to `<log>.migrated` (or `.migrated.2`, …,
 * never over an existing file). A log found beside an existing marker — a crash between the import and
 * the rename, or another process that imported first — is only renamed.
 */
export async function importLegacyLog(store: LmdbStore, logPath: string, warn: (msg: string) => void): Promise<LegacyImportResult> {
  const fullPath = resolve(logPath);
  let outcome: LegacyImportResult['outcome'] = 'already-imported';
  let count = 0;
  if (store.marker(MARKER) === undefined) {
    const entries = await readLegacyLog(fullPath, warn);
    if (entries === undefined) return { outcome: 'no-log', entries: 0 };
    const record = { log: fullPath, importedAt: Date.now(), entries: entries.size };
    if (await store.importOnce(MARKER, entries, record)) {
      outcome = 'imported';
      count = entries.size;
    }
  }
  // An import another process committed moments ago may not be on disk yet (only the importer waits for
  // its flush): a sync of the whole database first, so a power loss cannot take both it and the log. Only
  // when there is a log to move: every later start finds none and writes nothing.
  if (outcome === 'already-imported' && (await exists(fullPath))) await store.syncToDisk();
  const renamedTo = await moveAside(fullPath);
  return renamedTo === undefined ? { outcome, entries: count } : { outcome, entries: count, renamedTo };
}

/** The live entries of a log (expired ones left out), or undefined when there is no log. Writes nothing. */
export async function readLegacyLog(logPath: string, warn: (msg: string) => void, now = Date.now()): Promise<Map<string, StoredEntry> | undefined> {
  const fullPath = resolve(logPath);
  let contents: Buffer;
  try {
    contents = await readFile(fullPath);
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return undefined;
    throw error;
  }
  const entries = new Map<string, StoredEntry>();
  let start = 0;
  let lineNumber = 0;
  while (start < contents.length) {
    const newline = contents.indexOf(NEWLINE, start);
    const end = newline === -1 ? contents.length : newline;
    const line = contents.subarray(start, end);
    start = end + 1;
    lineNumber++;
    if (isBlank(line)) continue;
    const record = parseRecord(line);
    if (record !== undefined) applyRecord(entries, record, now);
    // A last line without its newline that still parses is a whole record that only lost the newline
    // (a proper prefix of a JSON object never parses); one that does not is what a crash mid-append leaves.
    else if (newline === -1) warn(`${fullPath}: ignoring torn last line (${line.length} bytes), probably from a crash mid-write`);
    else warn(`${fullPath}:${lineNumber}: skipping unparsable log line (${line.length} bytes)`);
  }
  return entries;
}

async function moveAside(fullPath: string): Promise<string | undefined> {
  for (let n = 1; ; n++) {
    const target = n === 1 ? `${fullPath}.migrated` : `${fullPath}.migrated.${n}`;
    // Never over an existing file (an earlier migration's). Only this code creates these names, and the
    // first rename of the log makes any racing one fail with ENOENT, so the check cannot be outrun.
    if (await exists(target)) continue;
    try {
      await rename(fullPath, target);
      return target;
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return undefined;
      throw error;
    }
  }
}

function applyRecord(entries: Map<string, StoredEntry>, record: LogRecord, now: number): void {
  switch (record.op) {
    case 'set': {
      const entry: StoredEntry = record.expires === undefined ? { value: record.value } : { value: record.value, expires: record.expires };
      // An expired set still overrides whatever came before it for that key.
      if (entry.expires !== undefined && entry.expires <= now) entries.delete(record.key);
      else entries.set(record.key, entry);
      return;
    }
    case 'del':
      entries.delete(record.key);
      return;
    case 'clear':
      if (record.prefix === undefined) {
        entries.clear();
        return;
      }
      for (const key of entries.keys()) {
        if (key.startsWith(record.prefix)) entries.delete(key);
      }
      return;
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

function isBlank(bytes: Uint8Array): boolean {
  // Whitespace, plus NULs: some filesystems expose a crash as a zero-filled extent.
  return bytes.every((b) => b === 0x20 || b === 0x09 || b === 0x0d || b === 0x00);
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return false;
    throw error;
  }
}

function isErrno(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && error.code === code;
}

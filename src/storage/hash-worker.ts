// SHA-256 of large writes off the event loop that feeds clients (issue 11): one worker thread per process
// hashes what the writers copy into a shared ring buffer. The event loop only copies each batch (from bytes
// that just arrived, still in the CPU's cache) and posts where it lies; the worker hashes it and hands the
// ring space back. The ring bounds the memory: a writer that gets ahead of the worker waits for room, so
// no queue of chunks grows when hashing is slower than the upstream.
//
// The worker is started on the first large write and stopped once no write has used it for a while; it
// never keeps the process alive. If it dies, every write it was hashing fails (and so keeps nothing); for a
// minute after, new writes are hashed on the event loop (hashWorkerAvailable), so a worker that cannot start
// at all (a thread or memory limit) slows fills down instead of failing every one of them.

import { Worker } from 'node:worker_threads';
import type { DigestAlgorithm } from '../reference.ts';

const RING_BYTES = 8 * 1024 * 1024;
/** One message's share of the ring at most, so several writers interleave rather than wait on one. */
const MAX_PIECE = RING_BYTES / 4;
/** Copied bytes are announced to the worker in batches of about this much: a message per socket read would cost more than the hashing. */
const POST_BYTES = 1024 * 1024;
/** Long enough that the pulls of one image reuse the worker: starting one costs tens of ms on the event loop. */
const IDLE_STOP_MS = 60_000;

/** After a worker died unexpectedly, how long large writes are hashed on the event loop instead. */
const FALLBACK_MS = 60_000;
let lastFailureAt = Number.NEGATIVE_INFINITY;

/** Whether new writes should use the worker (false for a while after one died or failed to start). */
export function hashWorkerAvailable(now = Date.now()): boolean {
  return now - lastFailureAt >= FALLBACK_MS;
}

/** A worker could not be started or died: hash on the event loop for a while. */
export function noteHashWorkerFailure(error: Error): void {
  if (hashWorkerAvailable()) process.emitWarning(`hash worker unavailable, hashing on the event loop for ${FALLBACK_MS / 1000} s: ${error.message}`);
  lastFailureAt = Date.now();
}

const HASH_WORKER_HEAP = { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 2 };

// Plain JavaScript evaluated in the worker: no loader is needed, built or run through tsx alike.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const ring = Buffer.from(workerData.ring);
const hashes = new Map();
parentPort.on('message', (m) => {
  if (m.op === 'open') hashes.set(m.job, createHash(m.algorithm));
  else if (m.op === 'update') {
    hashes.get(m.job)?.update(ring.subarray(m.at, m.at + m.length));
    parentPort.postMessage({ op: 'released', upTo: m.end });
  } else if (m.op === 'digest') {
    const hash = hashes.get(m.job);
    hashes.delete(m.job);
    parentPort.postMessage({ op: 'digest', job: m.job, hex: hash ? hash.digest('hex') : null });
  } else if (m.op === 'drop') hashes.delete(m.job);
  else if (m.op === 'crash') throw new Error('hash worker crash requested');
});
`;

type WorkerMessage = { op: 'released'; upTo: number } | { op: 'digest'; job: number; hex: string | null };

interface Waiter {
  resolve: () => void;
  reject: (error: Error) => void;
}

/** One running worker and its ring; replaced by a new one if it dies. */
class HashThread {
  readonly worker: Worker;
  private readonly ring: Buffer;
  /** Ring bytes handed out and handed back, counted from the start (positions are these modulo the size). */
  private head = 0;
  private tail = 0;
  private readonly roomWaiters: Waiter[] = [];
  private readonly digests = new Map<number, { resolve: (hex: string) => void; reject: (error: Error) => void }>();
  /** The newest copied stretch, not yet announced; a later one of the same write that follows it joins it. */
  private unposted: { job: number; at: number; length: number; end: number } | undefined;
  failure: Error | undefined;
  /** Stopped on purpose (idle): its exit is no failure. */
  stopping = false;
  jobs = 0;

  constructor(onGone: (thread: HashThread) => void) {
    const shared = new SharedArrayBuffer(RING_BYTES);
    this.ring = Buffer.from(shared);
    // The worker's heap holds a few hash states and messages, never the bytes (those are in the ring):
    // small V8 limits keep its memory to a few MiB instead of a default-sized second heap.
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { ring: shared }, resourceLimits: HASH_WORKER_HEAP });
    this.worker.on('message', (message: WorkerMessage) => {
      if (message.op === 'released') {
        this.tail = message.upTo;
        this.wakeRoomWaiters();
      } else {
        const waiting = this.digests.get(message.job);
        this.digests.delete(message.job);
        if (message.hex === null) waiting?.reject(new Error('hash worker lost this write'));
        else waiting?.resolve(message.hex);
      }
    });
    const gone = (error: Error): void => {
      if (this.failure) return;
      this.failure = error;
      for (const waiter of this.roomWaiters.splice(0)) waiter.reject(error);
      for (const waiting of this.digests.values()) waiting.reject(error);
      this.digests.clear();
      onGone(this);
    };
    this.worker.on('error', (error) => gone(new Error('hash worker failed', { cause: error })));
    this.worker.on('exit', (code) => gone(new Error(`hash worker exited (${code})`)));
    // Only writes in progress keep the process alive, not an idle worker (after the listeners: adding one refs it).
    this.worker.unref();
  }

  open(job: number, algorithm: DigestAlgorithm): void {
    this.jobs += 1;
    if (this.jobs === 1) this.worker.ref();
    this.worker.postMessage({ op: 'open', job, algorithm });
  }

  /** Copies the chunks into the ring (waiting for room) and has them hashed, in order, after earlier ones. */
  async update(job: number, chunks: Buffer[]): Promise<void> {
    let index = 0;
    let within = 0;
    while (index < chunks.length) {
      let length = 0;
      for (let i = index, skip = within; i < chunks.length && length < MAX_PIECE; i++, skip = 0) length += (chunks[i] as Buffer).length - skip;
      length = Math.min(length, MAX_PIECE);
      if (length === 0) return;
      // Reserving, copying and posting happen with no await in between, so pieces reach the worker in the
      // order their room was handed out, and a release never covers a piece not yet posted.
      let at = this.reserve(length);
      while (at === undefined) {
        // What is held back must reach the worker, or the room it takes would never come back.
        this.post();
        await this.roomFreed();
        at = this.reserve(length);
      }
      let copied = 0;
      while (copied < length) {
        const chunk = chunks[index] as Buffer;
        const n = chunk.copy(this.ring, at + copied, within, Math.min(chunk.length, within + length - copied));
        copied += n;
        within += n;
        if (within === chunk.length) {
          index += 1;
          within = 0;
        }
      }
      const last = this.unposted;
      if (last && last.job === job && last.at + last.length === at) {
        last.length += length;
        last.end = this.head;
      } else {
        this.post();
        this.unposted = { job, at, length, end: this.head };
      }
      if ((this.unposted?.length ?? 0) >= POST_BYTES) this.post();
    }
  }

  /** Announces the held-back stretch. Stretches reach the worker in the order their room was handed out. */
  private post(): void {
    const piece = this.unposted;
    this.unposted = undefined;
    if (piece && !this.failure) this.worker.postMessage({ op: 'update', ...piece });
  }

  digest(job: number): Promise<string> {
    if (this.failure) return Promise.reject(this.failure);
    this.post();
    return new Promise((resolve, reject) => {
      this.digests.set(job, { resolve, reject });
      this.worker.postMessage({ op: 'digest', job });
    });
  }

  drop(job: number): void {
    this.post();
    if (!this.failure) this.worker.postMessage({ op: 'drop', job });
  }

  /** A contiguous stretch of `length` ring bytes, if there is room; a too-short end of the ring is skipped. */
  private reserve(length: number): number | undefined {
    if (this.failure) throw this.failure;
    const start = this.head % RING_BYTES;
    const skip = start + length > RING_BYTES ? RING_BYTES - start : 0;
    if (this.head - this.tail + skip + length > RING_BYTES) return undefined;
    this.head += skip + length;
    return (start + skip) % RING_BYTES;
  }

  private roomFreed(): Promise<void> {
    return new Promise((resolve, reject) => this.roomWaiters.push({ resolve, reject }));
  }

  private wakeRoomWaiters(): void {
    for (const waiter of this.roomWaiters.splice(0)) waiter.resolve();
  }
}

let current: HashThread | undefined;
let idleTimer: NodeJS.Timeout | undefined;
let nextJob = 1;

function thread(): HashThread {
  if (idleTimer) clearTimeout(idleTimer);
  idleTimer = undefined;
  current ??= new HashThread((gone) => {
    if (current === gone) current = undefined;
    if (!gone.stopping && gone.failure) noteHashWorkerFailure(gone.failure);
  });
  return current;
}

function released(used: HashThread): void {
  used.jobs -= 1;
  if (used.jobs > 0) return;
  used.worker.unref();
  if (used !== current) return;
  idleTimer = setTimeout(() => {
    idleTimer = undefined;
    if (current === used && used.jobs === 0) {
      current = undefined;
      used.stopping = true;
      void used.worker.terminate();
    }
  }, IDLE_STOP_MS);
  idleTimer.unref();
}

/** A hash computed by the worker: update() in order, then digest() once (or drop()). */
export class OffloadedHash {
  private readonly job = nextJob++;
  private readonly thread: HashThread;
  private ended = false;

  constructor(algorithm: DigestAlgorithm) {
    this.thread = thread();
    this.thread.open(this.job, algorithm);
  }

  /** Resolves once the chunks are copied (they may be reused then); rejects if the worker died. */
  update(chunks: Buffer[]): Promise<void> {
    if (this.ended) throw new Error('hash already finished');
    return this.thread.update(this.job, chunks);
  }

  async digest(): Promise<string> {
    if (this.ended) throw new Error('hash already finished');
    this.ended = true;
    try {
      return await this.thread.digest(this.job);
    } finally {
      released(this.thread);
    }
  }

  drop(): void {
    if (this.ended) return;
    this.ended = true;
    this.thread.drop(this.job);
    released(this.thread);
  }
}

/** For tests: makes the running worker throw, as a crash would. */
export function crashHashWorkerForTest(): void {
  current?.worker.postMessage({ op: 'crash' });
}

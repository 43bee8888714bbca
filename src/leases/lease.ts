// Leases: the one thing both the stores (src/storage/) and the replicas (src/replicas/) speak of, defined
// below both so neither folder imports the other (issue 10: storage/ and replicas/ imported each other).
// A lease is held by one process at a time, renewed while its holder works, and lost if it stops.

/** A lock held for a while; release() lets go of it. */
export interface HeldLease {
  /** True once a renewal failed: another holder may have taken over, so stop acting on it. */
  readonly lost: boolean;
  release(): Promise<void>;
}

/** A lease that can carry a short note for whoever waits on it (a fill's in-flight write and size). */
export interface Lease extends HeldLease {
  /** Publishes a short note for followers (e.g. the write in flight and its size). */
  publish(info: string): Promise<void>;
}

/** One named lock shared by every process that can see it (the eviction sweeper's). */
export interface ExclusiveLock {
  /** The lease, or undefined while another process holds it. */
  tryAcquire(): Promise<HeldLease | undefined>;
  close(): Promise<void>;
}

/**
 * A lock whose holder leaves a note for the others, and that the others can look at without taking it:
 * what the fill lease needs (issue 11: workers on one host without Redis follow each other's fills).
 */
export interface NotedLock extends ExclusiveLock {
  tryAcquire(): Promise<Lease | undefined>;
  /** Whether a live holder has it, and the note it published. */
  peek(): Promise<{ held: boolean; info: string | undefined }>;
}

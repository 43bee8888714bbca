// Room on disk for fills in flight (issue 9: tmp/ did not count against storage.maxSize, and 1.5 GiB was
// written under a 1 GiB cap). A fill asks for room before it writes a byte: its announced size, or, when
// the upstream announced none, as it grows. No room (after what eviction can free) means the content
// streams through to its clients without being kept. The evictor implements this (src/eviction/evictor.ts):
// it knows the kept bytes and makes room before a fill starts, not after it lands.

export interface DiskReservation {
  /** Asks to hold `total` bytes in all (a fill of unannounced size, growing); false: no room, stop keeping. */
  grow(total: number): boolean;
  /** The blob was kept with `size` verified bytes: they count as kept from now on, the reservation ends. */
  kept(size: number): void;
  /** The fill ended without keeping anything: the room is free again. Idempotent. */
  release(): void;
}

export interface DiskRoom {
  /** Room for a fill of `bytes` (undefined: not announced); undefined when there is none to be had. */
  reserve(bytes: number | undefined): Promise<DiskReservation | undefined>;
}

/** No cap configured: every fill is kept. */
export const UNLIMITED_ROOM: DiskRoom = {
  reserve: async () => ({ grow: () => true, kept: () => undefined, release: () => undefined }),
};

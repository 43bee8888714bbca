// The memory a blob download is read into (issue 11, cold fills). Node's sockets read into a fresh 64 KiB
// buffer per read; for a 256 MiB layer that is 4000 allocations outside V8's heap, and such allocations are
// what push V8 into full collections (the bench's cold row spent more CPU collecting than hashing). A
// download reads its upstream socket into the slots of one ring instead (net's `onread`), and a slot is read
// into again only once nobody needs its bytes. The download's own disk write and hash *hold* a slot: the
// ring waits for them (its upstream socket stops being read), so it bounds the download's memory instead of
// buffering. Readers sending the bytes to clients *borrow* it until their socket took them: the ring does
// not wait for a client (a stalled one would stall every other), it leaves a borrowed slot to its readers
// and takes a new buffer in its place.
//
// A ring allocates its slots as it first needs them (a small blob takes one), and they are collected with
// it: views of them in the fill's recent window stay good for its readers after the download ended.

export const SLOT_BYTES = 256 * 1024;
/** Slots of one download's ring: 8 MiB, the fill's memory window (blob-fill.ts). */
export const RING_SLOTS = 32;
/** The least room a read is given (a socket read brings up to 64 KiB unless given more). */
export const MIN_READ_BYTES = 64 * 1024;

/** A slot of a ring: the bytes of one or more socket reads, and who still needs them. */
export class RingSlot {
  readonly buffer: Buffer;
  /** Holders of the bytes now in it that the ring waits for (the download's write and hash). */
  holds = 0;
  /** Readers of its bytes whose socket writes are under way; the ring does not wait for them. */
  borrowed = 0;
  /** How many times it was started afresh: a view taken in an earlier round is stale. */
  round = 0;
  private readonly ring: ReceiveRing;

  constructor(ring: ReceiveRing, buffer: Buffer) {
    this.ring = ring;
    this.buffer = buffer;
  }

  hold(): void {
    this.holds += 1;
  }

  release(): void {
    if (this.holds <= 0) throw new Error('ring slot released more often than held');
    this.holds -= 1;
    if (this.holds === 0) this.ring.freed(this);
  }

  borrow(): void {
    this.borrowed += 1;
  }

  giveBack(): void {
    if (this.borrowed <= 0) throw new Error('ring slot given back more often than borrowed');
    this.borrowed -= 1;
  }
}

/** Bytes of a download and the slot they lie in (none: a buffer of their own, never reused). */
export interface HeldBytes {
  bytes: Buffer;
  slot?: RingSlot;
  /** The slot's round when these bytes were read into it. */
  round?: number;
}

/** Whether `held` still shows the bytes it was taken with (its slot has not been read into since). */
export function stillHeld(held: HeldBytes): boolean {
  return held.slot === undefined || held.slot.round === held.round;
}

export class ReceiveRing {
  private readonly slots: RingSlot[] = [];
  private readonly capacity: number;
  /** The slot reads go into now, and how much of it they filled. */
  private current: RingSlot | undefined;
  private currentIndex = -1;
  private used = 0;
  /** The slot the transport waits for before it reads on, and how to tell it. */
  private waiter: { slot: RingSlot; resume: () => void } | undefined;

  constructor(capacitySlots: number) {
    this.capacity = Math.max(2, capacitySlots);
  }

  /**
   * Where the next read goes: the rest of the current slot while at least MIN_READ_BYTES of it is left
   * (so a slot holds several small reads and the ring its full size in bytes), else the next slot, started
   * afresh. Undefined while that slot is still held: the read then goes elsewhere and is copied in by
   * `copyIn` once the transport, told by `nextIsFree`, reads on.
   */
  region(): Buffer | undefined {
    if (this.current !== undefined && this.currentHasRoom()) return this.current.buffer.subarray(this.used);
    const index = this.followingIndex();
    let slot = this.slots[index];
    if (slot !== undefined && slot.holds > 0) return undefined;
    if (slot === undefined || slot.borrowed > 0) {
      // A borrowed slot stays its readers' (their views stay good) until they are done and let it go.
      slot = new RingSlot(this, Buffer.allocUnsafeSlow(SLOT_BYTES));
      this.slots[index] = slot;
    }
    // Started afresh: views of its earlier bytes are stale from now on.
    slot.round += 1;
    this.current = slot;
    this.currentIndex = index;
    this.used = 0;
    return slot.buffer;
  }

  /**
   * Whether `region()` has room for the next read. If not, `onFree` is called once it has (the transport
   * stops reading its socket meanwhile).
   */
  nextIsFree(onFree: () => void): boolean {
    if (this.currentHasRoom()) return true;
    const slot = this.slots[this.followingIndex()];
    if (slot === undefined || slot.holds === 0) return true;
    this.waiter = { slot, resume: onFree };
    return false;
  }

  /**
   * A read of `length` bytes into `buffer`: the held bytes, if `buffer` is the region this ring handed out;
   * undefined if it is some other buffer (see `copyIn`).
   */
  took(buffer: Uint8Array, length: number): HeldBytes | undefined {
    const slot = this.current;
    if (slot === undefined || buffer.buffer !== slot.buffer.buffer || buffer.byteOffset !== slot.buffer.byteOffset + this.used) return undefined;
    const bytes = slot.buffer.subarray(this.used, this.used + length);
    this.used += length;
    return { bytes, slot, round: slot.round };
  }

  /**
   * Bytes read elsewhere (at most MIN_READ_BYTES), copied into the ring; or into a buffer of their own while
   * the ring has no room: a TLS socket told to stop still hands over the records it already decrypted.
   */
  copyIn(bytes: Buffer): HeldBytes {
    const region = this.region();
    if (region === undefined || bytes.length > region.length) return { bytes: Buffer.from(bytes) };
    bytes.copy(region);
    return this.took(region, bytes.length) as HeldBytes;
  }

  /** Whether the next read still goes into the current slot (region() and nextIsFree() must agree on it). */
  private currentHasRoom(): boolean {
    return this.current !== undefined && SLOT_BYTES - this.used >= MIN_READ_BYTES;
  }

  /** Where in the ring the slot after the current one is. */
  private followingIndex(): number {
    return (this.currentIndex + 1) % this.capacity;
  }

  /** @internal RingSlot.release() */
  freed(slot: RingSlot): void {
    if (this.waiter?.slot === slot) {
      const { resume } = this.waiter;
      this.waiter = undefined;
      resume();
    }
  }
}

// Buffers that kept blobs are read into to be sent, reused across requests. A fresh 1 MiB buffer per read
// is memory outside V8's heap that V8 answers with collections; after an idle spell has shrunk the heap
// (V8's memory reducer), that pressure held a mirror serving warm blobs in back-to-back full collections
// for good: half the rate at twice the CPU per request (issue 11; bench connection-pattern rows). Reused,
// the allocations stop once the pool holds what the sends in flight need.

/** Size of each buffer: large reads, a quarter of the syscalls of 256 KiB ones (bench: warm large blob). */
export const READ_BUFFER_BYTES = 1024 * 1024;
/**
 * Idle buffers kept for the next sends (a send has about one in flight: it reads the next once its socket
 * drained); more are let go, so an idle mirror holds at most this many MiB for them, not a burst's peak.
 */
const MAX_IDLE = 16;

const idle: Buffer[] = [];

export function takeReadBuffer(): Buffer {
  return idle.pop() ?? Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);
}

/** Only once nothing refers to its bytes any more (a socket's write callback, not its write call). */
export function giveReadBuffer(buffer: Buffer): void {
  if (idle.length < MAX_IDLE && buffer.length === READ_BUFFER_BYTES) idle.push(buffer);
}

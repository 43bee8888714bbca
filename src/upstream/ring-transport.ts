// HTTP/1.1 GETs whose bodies are read straight into a download's ReceiveRing (issue 11, cold fills): the
// transport of blob downloads only. Status, headers, Content-Length and chunked bodies, bodies that end
// with the connection, and 1xx answers skipped; connections kept alive per origin and reused, as a pool
// would (a cold image is a dozen blob GETs, and a TLS handshake per blob would cost round trips). Auth,
// redirects, rate limits and the address policy stay with the registry client (registry-client.ts), which
// decides every hop and calls get() for each.

import net from 'node:net';
import tls from 'node:tls';
import { type HeldBytes, MIN_READ_BYTES, ReceiveRing } from '../storage/receive-ring.ts';
import { bareHostname } from './address-policy.ts';
import { RingBody } from './ring-body.ts';

export interface RingTransportOptions {
  connectTimeoutMs: number;
  /**
   * No byte for this long fails a transfer; so does a status line and headers not whole this long after
   * the request was sent, however steadily they trickle (undici's headersTimeout).
   */
  idleTimeoutMs: number;
  /**
   * A body slower than this, averaged over each idle period, fails (0: no floor). A download holds a fill
   * slot; without a floor an upstream dripping a byte per idle period would hold it for good.
   */
  minBytesPerSecond: number;
  lookup: net.LookupFunction;
  /** Why a connection to this hostname must not be made (an internal IP literal not allowed), if so. */
  refusal: (hostname: string) => string | undefined;
  /** Extra trusted CA certificates (PEM) for TLS upstreams. */
  ca?: string | string[];
  /** Slots of each download's ring (receive-ring.ts): what one download may hold in memory. */
  ringSlots: number;
}

export interface RingResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: RingBody;
}

/** Longest status line and headers accepted (undici's default is 16 KiB; Docker Hub's are ~1 KiB). */
const MAX_HEAD_BYTES = 64 * 1024;
/** Longest chunk-size line (with extensions) or trailer line accepted in a chunked body. */
const MAX_CHUNK_LINE = 4 * 1024;
/** Trailers of a chunked body, all lines together (they are read and dropped). */
const MAX_TRAILER_BYTES = 16 * 1024;
/**
 * A chunked body's framing (size lines, extensions, CRLFs, trailers) may exceed its data by this much at
 * most: a body of 1-byte chunks with 4 KiB extensions would make every byte counted cost 4 KiB on the wire.
 */
const FRAMING_ALLOWANCE = 64 * 1024;
/** 1xx answers accepted before the real one (each is skipped; an endless stream of them is no answer). */
const MAX_INFORMATIONAL = 8;
/** Idle connections kept per origin, and for how long unless the server says less. */
const IDLE_PER_ORIGIN = 8;
const KEEP_IDLE_MS = 30_000;
/**
 * Where a read lands that no ring has room for (an idle connection's, or one after the ring was full): its
 * bytes are copied into the ring within the same callback, so one buffer serves every connection.
 */
const SCRATCH = Buffer.allocUnsafeSlow(MIN_READ_BYTES);
/** An answer not wanted (a redirect's, a 401's) is read to its end, keeping its connection, if at most this long… */
const DRAINABLE_BYTES = 64 * 1024;
/**
 * …and if its end comes within this time, while at most MAX_DRAINS others are being drained: an upstream that
 * sends a small answer slowly must not gather sockets and ring slots in the background, one per request.
 */
const DRAIN_DEADLINE_MS = 1000;
const MAX_DRAINS = 16;

export class RingTransport {
  private readonly options: RingTransportOptions;
  private readonly idle = new Map<string, Connection[]>();
  private closed = false;
  /** Unwanted answers being read to their end in the background (at most MAX_DRAINS). */
  drains = 0;

  constructor(options: RingTransportOptions) {
    this.options = options;
  }

  /** One GET; resolves once the status and headers are in, the body then streams into a ring of its own. */
  async get(url: URL, headers: Record<string, string>, signal?: AbortSignal): Promise<RingResponse> {
    signal?.throwIfAborted();
    const request = requestHead(url, headers);
    const ring = (): ReceiveRing => new ReceiveRing(this.options.ringSlots);
    const origin = `${url.protocol}//${url.host}`;
    const reused = this.takeIdle(origin);
    if (reused) {
      try {
        return await reused.exchange(request, ring(), signal);
      } catch (error) {
        // The server may have closed an idle connection just as it was reused: once more on a new one,
        // unless the answer had begun (a GET is safe to repeat; a half-answered one is a real failure).
        if (signal?.aborted || !(error instanceof ConnectionLost) || !error.retryable) throw error;
      }
    }
    const connection = await this.connect(url, origin, signal);
    return connection.exchange(request, ring(), signal);
  }

  /** Closes idle connections; exchanges under way finish on theirs. */
  close(): void {
    this.closed = true;
    for (const list of this.idle.values()) for (const connection of list) connection.destroy();
    this.idle.clear();
  }

  /** @internal Connection, Exchange */
  get timing(): Pick<RingTransportOptions, 'idleTimeoutMs' | 'minBytesPerSecond'> {
    return this.options;
  }

  private takeIdle(origin: string): Connection | undefined {
    const list = this.idle.get(origin);
    for (;;) {
      const connection = list?.pop();
      if (list?.length === 0) this.idle.delete(origin);
      if (!connection) return undefined;
      if (connection.usable) return connection;
    }
  }

  /** @internal Connection: an exchange ended whole on a connection the server keeps open. */
  park(connection: Connection, keepMs: number): void {
    const list = this.idle.get(connection.origin) ?? [];
    if (this.closed || list.length >= IDLE_PER_ORIGIN) {
      connection.destroy();
      return;
    }
    list.push(connection);
    this.idle.set(connection.origin, list);
    connection.idleFor(keepMs, () => {
      const at = list.indexOf(connection);
      if (at >= 0) list.splice(at, 1);
      // Origins come from redirects too: an emptied list goes, so the map holds only origins with connections.
      if (list.length === 0 && this.idle.get(connection.origin) === list) this.idle.delete(connection.origin);
    });
  }

  private connect(url: URL, origin: string, signal: AbortSignal | undefined): Promise<Connection> {
    const hostname = bareHostname(url.hostname);
    const refusal = this.options.refusal(hostname);
    if (refusal !== undefined) {
      return Promise.reject(Object.assign(new Error(`connection refused by the mirror: ${refusal}`), { code: 'EINTERNALADDRESS' }));
    }
    const secure = url.protocol === 'https:';
    const port = Number(url.port || (secure ? 443 : 80));
    return new Promise((resolve, reject) => {
      const connection = new Connection(this, origin);
      const onread = connection.onread;
      // tls.connect takes `onread` as net.connect does (Node's documentation; its types leave it out).
      const tlsOptions = { host: hostname, port, servername: net.isIP(hostname) ? undefined : hostname, lookup: this.options.lookup, onread, ALPNProtocols: ['http/1.1'], ...(this.options.ca && { ca: this.options.ca }) };
      const socket = secure ? tls.connect(tlsOptions as tls.ConnectionOptions) : net.connect({ host: hostname, port, lookup: this.options.lookup, onread });
      const fail = (error: Error): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', abort);
        socket.destroy();
        reject(error);
      };
      const abort = (): void => fail(abortError(signal));
      const timer = setTimeout(() => fail(Object.assign(new Error('upstream connect timed out'), { code: 'UND_ERR_CONNECT_TIMEOUT' })), this.options.connectTimeoutMs);
      signal?.addEventListener('abort', abort, { once: true });
      socket.once('error', fail);
      socket.once(secure ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', abort);
        socket.off('error', fail);
        connection.attach(socket, this.options.idleTimeoutMs);
        resolve(connection);
      });
    });
  }
}

/** A failure of the connection itself; `answered`: whether any byte of the answer had arrived. */
class ConnectionLost extends Error {
  readonly answered: boolean;
  constructor(message: string, answered: boolean, cause?: unknown) {
    super(message, { cause });
    this.answered = answered;
  }

  /** Closed under a request before any answer (not a time-out: the upstream was given its time once). */
  get retryable(): boolean {
    return !this.answered && (this.cause as { code?: string } | undefined)?.code !== IDLE_TIMEOUT;
  }
}

const IDLE_TIMEOUT = 'UND_ERR_BODY_TIMEOUT';

/** What an abort of `signal` fails a connect or an exchange with. */
function abortError(signal: AbortSignal | undefined): Error {
  return signal?.reason instanceof Error ? signal.reason : new Error('aborted');
}

function requestHead(url: URL, headers: Record<string, string>): string {
  let head = `GET ${url.pathname}${url.search} HTTP/1.1\r\nhost: ${url.host}\r\n`;
  for (const [name, value] of Object.entries(headers)) {
    // Values come from configuration and token services: one that would start a header of its own is refused.
    if (/[\r\n\0]/.test(value) || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) throw new Error(`header ${name} cannot be sent`);
    head += `${name}: ${value}\r\n`;
  }
  return `${head}connection: keep-alive\r\n\r\n`;
}

type Framing = { kind: 'length'; remaining: number } | { kind: 'chunked' } | { kind: 'close' };

/** One upstream connection; while an exchange is under way its reads go into that exchange's ring. */
class Connection {
  readonly origin: string;
  private readonly transport: RingTransport;
  private socket: net.Socket | undefined;
  private current: Exchange | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  /** Takes this connection off its origin's idle list (set while it is parked). */
  private forgetIdle: (() => void) | undefined;
  private idleMs = 0;
  usable = true;

  constructor(transport: RingTransport, origin: string) {
    this.transport = transport;
    this.origin = origin;
  }

  /** net's `onread`: the buffer of each next read, and what each read brought. */
  readonly onread = {
    buffer: (): Uint8Array => this.current?.nextBuffer() ?? SCRATCH,
    callback: (length: number, buffer: Uint8Array): boolean => {
      const exchange = this.current;
      if (!exchange) {
        // Bytes nobody asked for on an idle connection: it cannot be trusted with another request.
        this.destroy();
        return false;
      }
      return exchange.received(length, buffer as Buffer);
    },
  };

  attach(socket: net.Socket, idleMs: number): void {
    this.socket = socket;
    this.idleMs = idleMs;
    socket.setNoDelay(true);
    socket.on('error', (error) => this.lost(error));
    socket.on('end', () => this.lost(undefined));
    socket.on('close', () => this.lost(undefined));
    socket.on('timeout', () => this.lost(Object.assign(new Error('upstream idle too long'), { code: IDLE_TIMEOUT })));
  }

  exchange(request: string, ring: ReceiveRing, signal: AbortSignal | undefined): Promise<RingResponse> {
    const socket = this.socket as net.Socket;
    if (!this.usable || socket.destroyed) return Promise.reject(new ConnectionLost('connection closed while idle', false));
    clearTimeout(this.idleTimer);
    this.forgetIdle = undefined;
    socket.setTimeout(this.idleMs);
    socket.ref();
    const exchange = new Exchange(ring, this, this.transport, signal);
    this.current = exchange;
    socket.write(request);
    return exchange.head;
  }

  /** @internal Exchange: its answer ended whole and the server keeps the connection (for `keepMs`). */
  done(exchange: Exchange, keepMs: number | undefined): void {
    if (this.current !== exchange) return;
    this.current = undefined;
    if (keepMs === undefined || !this.usable) this.destroy();
    else this.transport.park(this, keepMs);
  }

  /** @internal RingTransport.park */
  idleFor(keepMs: number, forget: () => void): void {
    const socket = this.socket as net.Socket;
    socket.setTimeout(0);
    socket.unref();
    this.idleTimer = setTimeout(() => {
      forget();
      this.destroy();
    }, keepMs);
    this.idleTimer.unref();
    this.forgetIdle = forget;
  }


  pauseIdleTimer(): void {
    this.socket?.setTimeout(0);
  }

  /** Resumes reading after the ring made room. */
  resume(): void {
    this.socket?.setTimeout(this.idleMs);
    this.socket?.resume();
  }

  destroy(): void {
    this.usable = false;
    clearTimeout(this.idleTimer);
    this.forgetIdle?.();
    this.socket?.destroy();
  }

  private lost(error: Error | undefined): void {
    const exchange = this.current;
    this.current = undefined;
    this.destroy();
    exchange?.connectionEnded(error);
  }
}

/** One request and its answer on a connection. */
class Exchange {
  readonly head: Promise<RingResponse>;
  private readonly ring: ReceiveRing;
  private readonly connection: Connection;
  private readonly transport: RingTransport;
  private readonly signal: AbortSignal | undefined;
  private resolveHead!: (response: RingResponse) => void;
  private rejectHead!: (error: Error) => void;
  /** The head read so far when it spans reads (copies: the ring may reuse what it was read into). */
  private headParts: Buffer[] | undefined = [];
  private headLength = 0;
  private informational = 0;
  private body: RingBody | undefined;
  private framing: Framing = { kind: 'close' };
  /** Chunked bodies: bytes of the chunk under way still to come, and the partial size line or trailers. */
  private chunkLeft = 0;
  private chunkState: 'size' | 'data' | 'data-end' | 'trailers' = 'size';
  private line = '';
  /** Chunked bodies: data bytes, and bytes of everything else (size lines, CRLFs, trailers). */
  private dataBytes = 0;
  private framingBytes = 0;
  private trailerBytes = 0;
  /** How long the connection may be reused after this answer (undefined: not at all). */
  private keepMs: number | undefined;
  private answered = false;
  private over = false;
  private failed = false;
  /** Fails the exchange if the head is not whole in time, then if the body falls below the floor rate. */
  private deadline: NodeJS.Timeout | undefined;
  /** Body bytes in the current rate window. */
  private windowBytes = 0;
  private draining = false;
  private readonly onAbort = (): void => this.fail(abortError(this.signal));

  constructor(ring: ReceiveRing, connection: Connection, transport: RingTransport, signal: AbortSignal | undefined) {
    this.ring = ring;
    this.connection = connection;
    this.transport = transport;
    this.signal = signal;
    this.head = new Promise((resolve, reject) => {
      this.resolveHead = resolve;
      this.rejectHead = reject;
    });
    signal?.addEventListener('abort', this.onAbort, { once: true });
    const { idleTimeoutMs } = transport.timing;
    // 0 turns the idle time-out off (upstreamTimeouts.idle: 0, as undici and sockets take it): no deadline either.
    if (idleTimeoutMs > 0) this.deadline = setTimeout(() => this.timedOut(`upstream sent no whole answer head within ${idleTimeoutMs} ms`), idleTimeoutMs);
  }

  nextBuffer(): Uint8Array | undefined {
    return this.over ? undefined : this.ring.region();
  }

  /** A read of `length` bytes into `buffer` (a slot of the ring, or the scratch buffer); false: stop reading. */
  received(length: number, buffer: Buffer): boolean {
    if (this.over) return false;
    this.answered = true;
    try {
      // Read into the scratch buffer (the connection was idle, or the ring was full): copied in.
      const held = this.ring.took(buffer, length) ?? this.ring.copyIn(buffer.subarray(0, length));
      this.take(held);
    } catch (error) {
      this.fail(error as Error);
      return false;
    }
    // Whole: the connection reads on (into the scratch buffer) while idle, to notice a close; failed: it is gone.
    if (this.over) return !this.failed;
    if (this.ring.nextIsFree(() => this.resume())) return true;
    // Waiting for the download's own disk and hash is no silence of the upstream's: no idle time-out and no
    // rate window meanwhile.
    this.connection.pauseIdleTimer();
    if (this.body !== undefined && !this.draining) clearTimeout(this.deadline);
    return false;
  }

  private resume(): void {
    if (this.over) return;
    if (this.body !== undefined) this.startRateWindow();
    this.connection.resume();
  }

  /** Checks, once per idle period of the body, that it came at least at the floor rate. */
  private startRateWindow(): void {
    // A drain has a deadline of its own.
    if (this.draining) return;
    clearTimeout(this.deadline);
    const { idleTimeoutMs, minBytesPerSecond } = this.transport.timing;
    if (minBytesPerSecond <= 0 || idleTimeoutMs <= 0) return;
    this.windowBytes = 0;
    this.deadline = setTimeout(() => {
      const floor = (minBytesPerSecond * idleTimeoutMs) / 1000;
      if (this.windowBytes >= floor) this.startRateWindow();
      else this.timedOut(`upstream sent ${this.windowBytes} bytes in ${idleTimeoutMs} ms, below upstreamTimeouts.minRate (${minBytesPerSecond} bytes/s)`);
    }, idleTimeoutMs);
  }

  private timedOut(message: string): void {
    this.fail(new ConnectionLost(message, this.answered, Object.assign(new Error(message), { code: IDLE_TIMEOUT })));
  }

  private take(held: HeldBytes): void {
    let rest = held.bytes;
    while (this.headParts !== undefined) {
      if (rest.length === 0) return;
      const end = headEnd(this.headParts, rest);
      if (end < 0) {
        this.headLength += rest.length;
        if (this.headLength > MAX_HEAD_BYTES) throw new Error('upstream answer head too long');
        this.headParts.push(Buffer.from(rest));
        return;
      }
      if (this.headLength + end > MAX_HEAD_BYTES) throw new Error('upstream answer head too long');
      const head = Buffer.concat([...this.headParts, rest.subarray(0, end)]);
      rest = rest.subarray(end);
      this.headParts = [];
      this.headLength = 0;
      // A 1xx answer is followed by the real one.
      if (this.parseHead(head.toString('latin1', 0, head.length - 4))) this.headParts = undefined;
    }
    const body = { ...held, bytes: rest };
    if (this.framing.kind === 'chunked') this.takeChunked(body);
    else this.deliver(body);
  }

  /** Parses the status line and headers; false for a 1xx answer (another head follows). */
  private parseHead(text: string): boolean {
    const lines = text.split('\r\n');
    const status = /^HTTP\/1\.([01]) (\d{3})(?: .*)?$/.exec(lines[0] ?? '');
    if (!status) throw new Error('upstream answer is not HTTP/1.1');
    const statusCode = Number(status[2]);
    if (statusCode === 101) throw new Error('upstream switched protocols on a GET');
    if (statusCode >= 100 && statusCode < 200) {
      this.informational += 1;
      if (this.informational > MAX_INFORMATIONAL) throw new Error('upstream sent too many 1xx answers');
      return false;
    }
    // No prototype: a header named __proto__ is a header like any other.
    const headers: Record<string, string | string[] | undefined> = Object.create(null);
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon <= 0) throw new Error('upstream answer has a malformed header');
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      const earlier = headers[name];
      if (earlier === undefined) headers[name] = value;
      else if (Array.isArray(earlier)) earlier.push(value);
      else headers[name] = [earlier, value];
    }
    this.framing = framingOf(statusCode, headers);
    const small = this.framing.kind === 'length' && this.framing.remaining <= DRAINABLE_BYTES;
    this.body = new RingBody(() => this.abandon(), () => small && this.startDrain());
    this.keepMs = keepAliveMs(headers, status[1] === '0');
    this.startRateWindow();
    this.resolveHead({ statusCode, headers, body: this.body });
    if (this.framing.kind === 'length' && this.framing.remaining === 0) this.complete();
    return true;
  }

  /** The consumer does not want the (short) body: read it to its end in the background, if that may be. */
  private startDrain(): boolean {
    if (this.transport.drains >= MAX_DRAINS) return false;
    this.transport.drains += 1;
    this.draining = true;
    clearTimeout(this.deadline);
    this.deadline = setTimeout(() => this.abandon(), DRAIN_DEADLINE_MS);
    return true;
  }

  private deliver(held: HeldBytes): void {
    let { bytes } = held;
    if (bytes.length === 0) return;
    if (this.over) {
      this.extraBytes();
      return;
    }
    const framing = this.framing;
    if (framing.kind === 'length') {
      if (bytes.length > framing.remaining) {
        // More than announced: the answer ends at its length, and the connection cannot be trusted after.
        this.connection.usable = false;
        bytes = bytes.subarray(0, framing.remaining);
      }
      framing.remaining -= bytes.length;
    }
    this.windowBytes += bytes.length;
    this.body?.push({ ...held, bytes });
    if (framing.kind === 'length' && framing.remaining === 0) this.complete();
  }

  private takeChunked(held: HeldBytes): void {
    const { bytes } = held;
    let at = 0;
    while (at < bytes.length && !this.over) {
      if (this.chunkState === 'data') {
        const take = Math.min(this.chunkLeft, bytes.length - at);
        this.deliver({ ...held, bytes: bytes.subarray(at, at + take) });
        at += take;
        this.chunkLeft -= take;
        this.dataBytes += take;
        if (this.chunkLeft === 0) this.chunkState = 'data-end';
        continue;
      }
      // Size lines, the CRLF after each chunk and the trailers are small: read byte by byte into `line`.
      const newline = bytes.indexOf(10, at);
      const end = newline < 0 ? bytes.length : newline + 1;
      this.line += bytes.toString('latin1', at, end);
      this.framingBytes += end - at;
      if (this.chunkState === 'trailers') this.trailerBytes += end - at;
      at = end;
      if (this.line.length > MAX_CHUNK_LINE || this.trailerBytes > MAX_TRAILER_BYTES || this.framingBytes > FRAMING_ALLOWANCE + this.dataBytes) {
        throw new Error('upstream chunked body malformed');
      }
      if (newline < 0) return;
      const line = this.line.replace(/\r?\n$/, '');
      this.line = '';
      if (this.chunkState === 'data-end') {
        if (line !== '') throw new Error('upstream chunked body malformed');
        this.chunkState = 'size';
      } else if (this.chunkState === 'size') {
        const size = /^([0-9a-fA-F]{1,12})(?:;.*)?$/.exec(line.trim());
        if (!size) throw new Error('upstream chunked body malformed');
        this.chunkLeft = parseInt(size[1] as string, 16);
        this.chunkState = this.chunkLeft === 0 ? 'trailers' : 'data';
      } else if (line === '') {
        this.complete();
      }
    }
    if (this.over && at < bytes.length) this.extraBytes();
  }

  /** Bytes after the end of the answer: the connection cannot be trusted with another request. */
  private extraBytes(): void {
    this.connection.usable = false;
    this.connection.destroy();
  }

  /** The answer ended whole. */
  private complete(): void {
    if (this.over) return;
    this.finish();
    this.body?.end();
    this.connection.done(this, this.keepMs);
  }

  /** The connection ended or failed: the end of a body that runs until it closes, else a failure. */
  connectionEnded(error: Error | undefined): void {
    if (this.over) return;
    if (error === undefined && this.body !== undefined && this.framing.kind === 'close') {
      this.complete();
      return;
    }
    this.fail(new ConnectionLost(error?.message ?? 'upstream closed the connection before the answer ended', this.answered, error));
  }

  private fail(error: Error): void {
    if (this.over) return;
    this.finish();
    this.failed = true;
    this.connection.destroy();
    this.rejectHead(error);
    this.body?.fail(error);
  }

  /** The answer is over, whole or not: its timers and its place among the drains go. */
  private finish(): void {
    this.over = true;
    clearTimeout(this.deadline);
    this.signal?.removeEventListener('abort', this.onAbort);
    if (this.draining) this.transport.drains -= 1;
    this.draining = false;
  }

  /** The caller dropped the body before its end. */
  private abandon(): void {
    if (this.over) return;
    this.fail(new Error('body dropped'));
  }
}

/**
 * Where the head ends in `rest` (just after its blank line), given the earlier reads of it in `parts`, or -1.
 * The blank line may straddle reads; each byte is looked at a bounded number of times, however the head trickles.
 */
function headEnd(parts: Buffer[], rest: Buffer): number {
  const last = parts[parts.length - 1];
  if (last !== undefined) {
    // Up to 3 bytes of the terminator at the end of the earlier reads (a read of one byte each, at worst).
    const tail = Buffer.concat(parts.slice(-3)).subarray(-3).toString('latin1');
    for (let k = 3; k >= 1; k--) {
      if (tail.endsWith(HEAD_TERMINATOR.slice(0, k)) && rest.toString('latin1', 0, 4 - k) === HEAD_TERMINATOR.slice(k)) return 4 - k;
    }
  }
  const at = rest.indexOf(HEAD_TERMINATOR);
  return at < 0 ? -1 : at + 4;
}

const HEAD_TERMINATOR = '\r\n\r\n';

function framingOf(statusCode: number, headers: Record<string, string | string[] | undefined>): Framing {
  if (statusCode === 204 || statusCode === 304) return { kind: 'length', remaining: 0 };
  const encoding = headers['transfer-encoding'];
  if (encoding !== undefined) {
    const codings = [encoding].flat().join(',').split(',').map((c) => c.trim().toLowerCase());
    return codings[codings.length - 1] === 'chunked' ? { kind: 'chunked' } : { kind: 'close' };
  }
  const length = headers['content-length'];
  if (length === undefined) return { kind: 'close' };
  const values = new Set([length].flat().join(',').split(',').map((v) => v.trim()));
  const [only] = values;
  if (values.size !== 1 || only === undefined || !/^\d+$/.test(only) || !Number.isSafeInteger(Number(only))) {
    throw new Error('upstream answer has an invalid Content-Length');
  }
  return { kind: 'length', remaining: Number(only) };
}

/** How long the connection may be reused after this answer; undefined: not at all. */
function keepAliveMs(headers: Record<string, string | string[] | undefined>, http10: boolean): number | undefined {
  const tokens = [headers.connection ?? []].flat().join(',').toLowerCase().split(',').map((token) => token.trim());
  if (tokens.includes('close')) return undefined;
  // HTTP/1.0 closes after each answer unless it says otherwise (RFC 9112 9.3).
  if (http10 && !tokens.includes('keep-alive')) return undefined;
  const te = headers['transfer-encoding'] !== undefined;
  const cl = headers['content-length'] !== undefined;
  // Neither: the body ends with the connection. Both: a message framed two ways (RFC 9112 6.1), not reused.
  if (te === cl) return undefined;
  const hinted = /timeout=(\d+)/i.exec([headers['keep-alive'] ?? []].flat().join(','))?.[1];
  // A second before the server's own limit, so it does not close a connection as it is being reused.
  return hinted === undefined ? KEEP_IDLE_MS : Math.min(KEEP_IDLE_MS, Math.max(0, Number(hinted) * 1000 - 1000)) || undefined;
}

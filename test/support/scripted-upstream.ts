// A raw HTTP/1.1 server on the loopback whose every answer is written by hand (a script per request), for
// tests of the blob transport (src/upstream/ring-transport.ts): any framing, any split of the bytes, any
// hostile behaviour can be chosen. It records each connection; with
// the transport as the tests build it and a reader of whole bodies.

import assert from 'node:assert/strict';
import net from 'node:net';
import { RING_SLOTS } from '../../src/storage/receive-ring.ts';
import { type RingResponse, RingTransport, type RingTransportOptions } from '../../src/upstream/ring-transport.ts';

/** Answers one request (its head, as text) on its socket. */
export type Script = (socket: net.Socket, request: string) => void;

export interface ScriptedUpstream {
  /** The script for the requests to come. */
  script: Script;
  /** Every connection accepted so far, in order. */
  readonly connections: net.Socket[];
  /** A blob URL on this server. */
  url(): URL;
  close(): void;
}

export async function startScriptedUpstream(): Promise<ScriptedUpstream> {
  const connections: net.Socket[] = [];
  const upstream: ScriptedUpstream = {
    script: () => undefined,
    connections,
    url: () => new URL(`http://127.0.0.1:${port}/v2/x/blobs/sha256:0`),
    close: () => {
      for (const socket of connections) socket.destroy();
      server.close();
    },
  };
  const server = net.createServer((socket) => {
    connections.push(socket);
    let head = '';
    socket.on('data', (data) => {
      head += data.toString('latin1');
      while (head.includes('\r\n\r\n')) {
        const end = head.indexOf('\r\n\r\n') + 4;
        const request = head.slice(0, end);
        head = head.slice(end);
        upstream.script(socket, request);
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return upstream;
}

/** A blob transport for tests against a scripted upstream: loopback allowed, no floor rate unless given. */
export function testTransport(options: Partial<RingTransportOptions> = {}): RingTransport {
  return new RingTransport({ connectTimeoutMs: 2000, idleTimeoutMs: 2000, minBytesPerSecond: 0, lookup: undefined as unknown as net.LookupFunction, refusal: () => undefined, ringSlots: RING_SLOTS, ...options });
}

/** Reads a body whole, releasing each piece, and checks every piece lies in a slot of the ring. */
export async function readAll(response: RingResponse): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const held of response.body) {
    assert.ok(held.slot, 'every piece of the body lies in the ring');
    parts.push(Buffer.from(held.bytes));
    held.slot.release();
  }
  await response.body.whole;
  return Buffer.concat(parts);
}

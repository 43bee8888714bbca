// @ts-check
// The bench's floors for a cold blob: a process that does nothing but relay an upstream blob to one client —
// no hash, no disk, no routing, no auth of its own — reading the upstream socket into one reused ring of
// buffers (net's `onread`), so it allocates nothing per chunk and its heap never needs collecting. Whatever
// a mirror in Node must do on top (verify the digest, keep the bytes, serve several clients) only adds, so
// the cold row's "≤ 1.3× upstream direct" can be judged against what merely passing the bytes on costs on
// the same machine in the same run. With BARE_RELAY_KEEP_DIR it is the floor of a keeping mirror instead: it
// also hashes every byte (SHA-256, on its event loop) and writes it to a file there (removed afterwards),
// straight from the same ring, which a slot waits for too.
//
// Plain JavaScript (run by node itself, no loader): `node bare-relay.js <port> <upstream base URL>`, with the
// upstream's Authorization header in BARE_RELAY_AUTHORIZATION. GET /v2/... is relayed (a 200 with a
// Content-Length, else 502); any other path answers 200, for the runner's readiness check.

import { Buffer } from 'node:buffer';
import { createHash, randomUUID } from 'node:crypto';
import { close, openSync, unlink, write } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import process from 'node:process';
import { URL } from 'node:url';

const SLOT_BYTES = 256 * 1024;
const SLOTS = 16;

const [, , portText, upstreamText] = process.argv;
const upstream = new URL(upstreamText);
const authorization = process.env.BARE_RELAY_AUTHORIZATION;
const keepDir = process.env.BARE_RELAY_KEEP_DIR;

const server = http.createServer((req, res) => {
  if (!req.url?.startsWith('/v2/')) {
    res.end('ok');
    return;
  }
  relay(req.url, res);
});
server.listen(Number(portText), '127.0.0.1');

/**
 * One GET on a fresh upstream connection, its body written to `res` straight from the ring.
 * @param {string} path
 * @param {http.ServerResponse} res
 */
function relay(path, res) {
  const ring = Buffer.allocUnsafeSlow(SLOT_BYTES * SLOTS);
  /** @type {Buffer[]} */
  const slots = Array.from({ length: SLOTS }, (_, i) => ring.subarray(i * SLOT_BYTES, (i + 1) * SLOT_BYTES));
  // A slot is read into again only once the client's socket (and the file) took every byte written from it.
  const unflushed = new Array(SLOTS).fill(0);
  const hash = keepDir === undefined ? undefined : createHash('sha256');
  const file = keepDir === undefined ? undefined : join(keepDir, randomUUID());
  const fd = file === undefined ? undefined : openSync(file, 'wx');
  let kept = 0;
  let writesInFlight = 0;
  let ended = false;
  const dropFile = () => {
    if (fd === undefined || file === undefined || !ended || writesInFlight > 0) return;
    close(fd, () => unlink(file, () => undefined));
  };
  let next = 0;
  let waitingFor = -1;
  let head = Buffer.alloc(0);
  let remaining = -1;

  /** @param {string} message */
  const fail = (message) => {
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' }).end(message);
    else res.destroy();
    socket.destroy();
    finish();
  };
  const finish = () => {
    if (ended) return;
    ended = true;
    hash?.digest('hex');
    dropFile();
  };
  /** @param {number} slot */
  const release = (slot) => {
    unflushed[slot] -= 1;
    if (waitingFor === slot && unflushed[slot] === 0) {
      waitingFor = -1;
      socket.resume();
    }
  };

  /**
   * Writes `whole` (a view of slot `slot`) to the client; false if the upstream must wait for the next slot.
   * @param {Buffer} whole
   * @param {number} slot
   */
  const forward = (whole, slot) => {
    // Nothing past the announced length reaches the client (a well-behaved upstream sends none).
    const bytes = whole.length > remaining ? whole.subarray(0, remaining) : whole;
    remaining -= bytes.length;
    if (fd !== undefined) {
      hash?.update(bytes);
      unflushed[slot] += 1;
      writesInFlight += 1;
      write(fd, bytes, 0, bytes.length, kept, () => {
        writesInFlight -= 1;
        release(slot);
        dropFile();
      });
      kept += bytes.length;
    }
    unflushed[slot] += 1;
    res.write(bytes, () => release(slot));
    if (remaining === 0) {
      res.end();
      socket.destroy();
      finish();
      return true;
    }
    const following = (slot + 1) % SLOTS;
    if (unflushed[following] > 0) {
      waitingFor = following;
      return false;
    }
    return true;
  };

  const socket = net.connect({
    host: upstream.hostname,
    port: Number(upstream.port),
    onread: {
      // Called for the next read right after each one: the slot after the one just filled.
      buffer: () => {
        const slot = slots[next];
        next = (next + 1) % SLOTS;
        return slot;
      },
      callback: (length, buffer) => {
        const filled = /** @type {Buffer} */ (buffer);
        const slot = slots.indexOf(filled);
        const bytes = filled.subarray(0, length);
        if (remaining >= 0) return forward(bytes, slot);
        // The status line and headers (copied: they are small and the slot will be reused).
        head = Buffer.concat([head, bytes]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return head.length < 64 * 1024 ? true : (fail('upstream headers too long'), false);
        const text = head.subarray(0, end).toString('latin1');
        const status = /^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1];
        const announced = /\r\ncontent-length: *(\d+)/i.exec(text)?.[1];
        if (status !== '200' || announced === undefined) {
          fail(`upstream answered ${status ?? '?'}${announced === undefined ? ' without a Content-Length' : ''}`);
          return false;
        }
        remaining = Number(announced);
        res.writeHead(200, { 'content-length': announced, 'content-type': 'application/octet-stream' });
        const bodyStart = end + 4 - (head.length - bytes.length);
        if (remaining === 0) {
          res.end();
          socket.destroy();
          finish();
          return false;
        }
        return bodyStart < bytes.length ? forward(bytes.subarray(bodyStart), slot) : true;
      },
    },
  });
  socket.on('connect', () => {
    const auth = authorization ? `Authorization: ${authorization}\r\n` : '';
    socket.write(`GET ${path} HTTP/1.1\r\nHost: ${upstream.host}\r\nUser-Agent: bare-relay\r\n${auth}Connection: close\r\n\r\n`);
  });
  socket.on('error', (error) => fail(error.message));
  socket.on('close', () => {
    if (remaining !== 0) fail('upstream closed early');
  });
  res.on('close', () => socket.destroy());
}

// @ts-check
// The counting proxy's HTTP side, run in a worker thread by counting-proxy.ts (plain JavaScript: Node 20 does
// not apply the tsx loader inside workers). Its own event loop and small heap, so neither the test or bench
// runner's work nor its garbage collections (driven by a new 64 KiB read buffer per socket read) pace the bytes.
//
// Protocol on workerData.port (a MessagePort): the worker posts
//   { type: 'listening', port }            once, then after every resume
//   { type: 'request', id, method, url, headers, rawHeaders, at, slab, slabBase }   when a request arrives
//   { type: 'status', id, status }         when the upstream's answer head arrives, before it is forwarded
//                                          (status undefined: the upstream could not be reached)
//   { type: 'done', seq, error? }          answering a { type: 'pause' | 'resume' | 'close', seq } from the runner
// Response body bytes forwarded are counted in slab (a SharedArrayBuffer of Float64 counters, index id - slabBase),
// updated before each chunk is written to the client: no message per chunk.

import { createServer, request as httpRequest } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { URL } from 'node:url';
import { workerData } from 'node:worker_threads';

/** @type {{ target: string, port: import('node:worker_threads').MessagePort }} */
const { target, port: channel } = workerData;
const targetUrl = new URL(target);
const SLAB_SLOTS = 4096;

/** @type {Float64Array} */
let slab = new Float64Array(new SharedArrayBuffer(SLAB_SLOTS * 8));
let slabBase = 0;
let nextId = 0;

/** @type {Set<import('node:net').Socket>} */
const sockets = new Set();
let listenPort = 0;

const server = createServer((req, res) => {
  const url = req.url ?? '/';
  if (nextId - slabBase >= SLAB_SLOTS) {
    slab = new Float64Array(new SharedArrayBuffer(SLAB_SLOTS * 8));
    slabBase = nextId;
  }
  const id = nextId++;
  const counter = slab;
  const index = id - slabBase;
  channel.postMessage({
    type: 'request',
    id,
    method: req.method ?? 'GET',
    url,
    headers: req.headers,
    rawHeaders: req.rawHeaders,
    at: Date.now(),
    slab: counter.buffer,
    slabBase,
  });
  const upstream = httpRequest(
    {
      host: targetUrl.hostname,
      port: targetUrl.port,
      method: req.method,
      path: url,
      headers: req.headers,
    },
    (upRes) => {
      channel.postMessage({ type: 'status', id, status: upRes.statusCode });
      res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, upRes.rawHeaders);
      upRes.on('data', (/** @type {Buffer} */ chunk) => {
        counter[index] = (counter[index] ?? 0) + chunk.length;
      });
      pipeline(upRes, res).catch(() => res.destroy());
    },
  );
  upstream.on('error', () => {
    channel.postMessage({ type: 'status', id, status: undefined });
    if (!res.headersSent) {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end('upstream registry unreachable');
    } else {
      res.destroy();
    }
  });
  pipeline(req, upstream).catch(() => upstream.destroy());
});
server.on('connection', (socket) => {
  sockets.add(socket);
  socket.on('close', () => sockets.delete(socket));
});

/** @param {number} p @returns {Promise<void>} */
function listen(p) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(p, '127.0.0.1', () => {
      server.off('error', reject);
      const addr = server.address();
      if (addr !== null && typeof addr !== 'string') listenPort = addr.port;
      channel.postMessage({ type: 'listening', port: listenPort });
      resolve();
    });
  });
}

/** @returns {Promise<void>} */
function closeListener() {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => resolve());
    // Kept-alive and in-flight connections too: the mirror must see the upstream as down, not half up.
    for (const s of sockets) s.destroy();
  });
}

channel.on('message', (/** @type {{ type: string, seq: number }} */ m) => {
  const done = (/** @type {unknown} */ error) =>
    channel.postMessage({ type: 'done', seq: m.seq, ...(error === undefined ? {} : { error: error instanceof Error ? error.message : String(error) }) });
  if (m.type === 'pause') {
    closeListener().then(() => done(undefined), done);
  } else if (m.type === 'resume') {
    // Same port again: the mirror's configured upstream URL must keep working. libuv sets SO_REUSEADDR,
    // so TIME_WAIT sockets from before the pause do not block the re-bind.
    listen(listenPort).then(() => done(undefined), done);
  } else if (m.type === 'close') {
    closeListener().then(() => {
      done(undefined);
      channel.close();
    }, done);
  }
});

listen(0).catch((error) => {
  channel.postMessage({ type: 'listening', port: 0, error: error instanceof Error ? error.message : String(error) });
});

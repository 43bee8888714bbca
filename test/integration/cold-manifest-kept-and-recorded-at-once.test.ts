import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import Keyv from 'keyv';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.ts';
import { parseConfig } from '../../src/config.ts';
import type { Digest } from '../../src/reference.ts';
import { MemoryBlobStore } from '../../src/storage/memory-blob-store.ts';
import { MemoryRegistry } from '../support/memory-registry.ts';

// A cold manifest is kept (store.put) and recorded (its manifest record and its origin) at once, not one
// after the other: each waits for a disk flush, a database commit or a Redis round trip, and a pull asks
// for several cold manifests before its first layer. Kept-or-not is still decided by the bytes: a
// manifest whose bytes failed to land while its records did is fetched again, never served as kept.

const PAUSE_MS = 60;
const pause = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, PAUSE_MS));

/** Counts the slow steps of keeping a manifest that are under way at the same moment. */
class Overlap {
  private running = 0;
  most = 0;
  async during<T>(work: () => Promise<T>): Promise<T> {
    this.running++;
    this.most = Math.max(this.most, this.running);
    try {
      await pause();
      return await work();
    } finally {
      this.running--;
    }
  }
}

const overlap = new Overlap();
let failNextPut = false;

/** The in-memory store, each put taking a moment (a flush), or failing when told to. */
class SlowStore extends MemoryBlobStore {
  override async put(digest: Digest, bytes: Buffer): Promise<void> {
    return overlap.during(async () => {
      if (failNextPut) {
        failNextPut = false;
        throw new Error('disk full');
      }
      await super.put(digest, bytes);
    });
  }
}

/** A Keyv backend whose writes of manifest records and origins each take a moment (a commit). */
function slowRecords(): Map<string, unknown> {
  const map = new Map<string, unknown>();
  const set = map.set.bind(map);
  return Object.assign(map, {
    set(key: string, value: unknown): unknown {
      if (!/upstream-manifest:|origins:/.test(key)) return set(key, value);
      return overlap.during(async () => set(key, value));
    },
  });
}

let upstream: MemoryRegistry;
let app: FastifyInstance;
const records = slowRecords();

before(async () => {
  upstream = await new MemoryRegistry().start();
  const config = parseConfig({
    listen: '127.0.0.1:0',
    logLevel: 'silent',
    storage: { path: path.join(os.tmpdir(), `pullthrough-unused-${randomUUID()}`) },
    defaultUpstream: 'hub',
    upstreamTimeouts: { connect: '2s', idle: '5s' },
    upstreams: { hub: { url: upstream.url } },
  });
  app = await buildApp(config, { keyv: new Keyv({ store: records }), store: new SlowStore() });
});
after(async () => {
  await app.close();
  await upstream.stop();
});

test('a cold manifest is stored and recorded at once, and a later request finds it kept', async () => {
  const image = upstream.addImage('team/app', '1.0');
  const cold = await app.inject({ method: 'GET', url: '/v2/team/app/manifests/1.0' });
  assert.equal(cold.statusCode, 200);
  assert.deepEqual(cold.rawPayload, image.manifest.bytes);
  assert.ok(overlap.most >= 2, `keeping the bytes and recording them ran one after another (at most ${overlap.most} at once)`);
  const gets = upstream.count({ kind: 'manifest', method: 'GET' });
  const byDigest = await app.inject({ method: 'GET', url: `/v2/team/app/manifests/${image.digest}` });
  assert.equal(byDigest.statusCode, 200);
  assert.deepEqual(byDigest.rawPayload, image.manifest.bytes);
  assert.equal(upstream.count({ kind: 'manifest', method: 'GET' }), gets, 'the manifest was recorded as kept: no second upstream GET');
});

test('a manifest whose bytes failed to be stored is fetched again, though its records landed', async () => {
  const image = upstream.addImage('team/other', '2.0');
  failNextPut = true;
  const failed = await app.inject({ method: 'GET', url: `/v2/team/other/manifests/${image.digest}` });
  assert.ok(failed.statusCode >= 500, `a failed store answers an error, not ${failed.statusCode}`);
  await pause();
  assert.ok([...records.keys()].some((key) => key.includes(`upstream-manifest:hub:${image.digest}`)), 'the manifest record landed without its bytes');
  const gets = upstream.count({ kind: 'manifest', method: 'GET' });
  const again = await app.inject({ method: 'GET', url: `/v2/team/other/manifests/${image.digest}` });
  assert.equal(again.statusCode, 200);
  assert.deepEqual(again.rawPayload, image.manifest.bytes);
  assert.equal(upstream.count({ kind: 'manifest', method: 'GET' }), gets + 1, 'fetched again rather than served from a record without bytes');
});

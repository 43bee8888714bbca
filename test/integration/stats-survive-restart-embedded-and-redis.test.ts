import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import Keyv from 'keyv';
import KeyvRedis from '@keyv/redis';
import { summarize, type StatusSummary } from '../../src/observability/status-summary.ts';
import { parsePrometheus } from '../support/prometheus-text.ts';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

// Issue 12, item 15: hit ratio, bytes saved and pulls saved are kept in the metadata store (embedded file
// or Redis) and shown "since" the first count; a restart carries on from them. Replicas sharing Redis
// each add their own increments. /metrics stays per process (Prometheus counters start at 0).

const REDIS_URL = process.env.PULLTHROUGH_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
let dir: string;
let upstream: MemoryRegistry;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'pullthrough-stats-'));
  upstream = await new MemoryRegistry().start();
});
after(async () => {
  await upstream.stop();
  await rm(dir, { recursive: true, force: true });
});

/** A pull, then the same pull again: one miss and one hit of the manifest, one of each of the layer. */
async function pullTwice(mirror: TestMirror, repository: string): Promise<void> {
  const image = upstream.addImage(repository, 'v1', 2048);
  for (let round = 0; round < 2; round++) {
    for (const url of [`/v2/${repository}/manifests/v1`, `/v2/${repository}/blobs/${image.layer}`]) {
      const response = await fetch(`${mirror.url}${url}`);
      assert.equal(response.status, 200, url);
      await response.arrayBuffer();
    }
  }
}

/** The totals once `requests` manifest and blob requests are counted (a request is counted just after its answer). */
const totals = async (mirror: TestMirror, requests: number): Promise<NonNullable<StatusSummary['totals']>> => {
  for (let attempt = 0; ; attempt++) {
    const summary = await summarize(mirror.app.mirror.metrics, mirror.app.mirror.config);
    assert.ok(summary.totals, 'persisted totals are in the summary');
    if (summary.totals.fromCache + summary.totals.misses >= requests || attempt === 50) return summary.totals;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

test('embedded metadata: the counters and their start date survive a restart on the same storage', async () => {
  const storage = path.join(dir, 'embedded');
  const first = await startMirror({ hub: { url: upstream.url } }, { storage, keyv: 'configured' });
  await pullTwice(first, 'team/one');
  const before = await totals(first, 4);
  assert.equal(before.fromCache, 2);
  assert.equal(before.misses, 2);
  assert.equal(before.pullsSaved, 1);
  assert.ok(before.bytesFromCache > 2048);
  await first.close({ keepStorage: true });

  const second = await startMirror({ hub: { url: upstream.url } }, { storage, keyv: 'configured' });
  try {
    const summary = await summarize(second.app.mirror.metrics, second.app.mirror.config);
    assert.equal(summary.fromCache, 0, 'the per-process figures start over');
    assert.deepEqual(summary.totals, before, 'the persisted ones do not');
    const page = await (await fetch(`${second.url}/`)).text();
    assert.match(page, new RegExp(`since ${new Date(before.since).toISOString().slice(0, 10)}`));
    assert.match(page, /data-metric="hit-ratio" data-value="0.5"/);
    const metrics = parsePrometheus(await (await fetch(`${second.url}/metrics`)).text());
    const since = metrics.find((s) => s.name === 'pullthrough_stats_since_seconds');
    assert.equal(since?.value, Math.floor(before.since / 1000));
    assert.equal(metrics.find((s) => s.name === 'pullthrough_requests_total' && s.labels.cache === 'hit'), undefined, '/metrics counts this process only');

    await pullTwice(second, 'team/two');
    const more = await totals(second, 8);
    assert.equal(more.fromCache, 4);
    assert.equal(more.since, before.since);
  } finally {
    await second.close();
  }
});

test('Redis: two replicas add their own increments; a restarted mirror reads the sum', async () => {
  const namespace = `pullthrough-stats-test-${randomBytes(6).toString('hex')}`;
  const keyv = (): Keyv => new Keyv({ store: new KeyvRedis(REDIS_URL, { namespace, throwOnConnectError: false }), namespace, useKeyPrefix: false });
  const storage = path.join(dir, 'redis');
  const options = { storage, keyv: keyv(), redis: REDIS_URL };
  const a = await startMirror({ hub: { url: upstream.url } }, options);
  const b = await startMirror({ hub: { url: upstream.url } }, { ...options, keyv: keyv() });
  await pullTwice(a, `team/a-${namespace}`);
  await pullTwice(b, `team/b-${namespace}`);
  await a.close({ keepStorage: true });
  await b.close({ keepStorage: true });

  const c = await startMirror({ hub: { url: upstream.url } }, { ...options, keyv: keyv() });
  try {
    const sum = await totals(c, 8);
    assert.equal(sum.fromCache, 4);
    assert.equal(sum.misses, 4);
    assert.equal(sum.pullsSaved, 2);
  } finally {
    await c.close();
    const cleanup = keyv();
    await cleanup.clear();
    await cleanup.disconnect();
  }
});

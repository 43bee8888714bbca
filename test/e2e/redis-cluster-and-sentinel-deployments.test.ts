import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';
import { type RedisTopology, startRedisCluster, startRedisWithSentinel } from './support/redis-topologies.ts';

// The Redis deployments users run besides one server: two replicas sharing a store through a Redis Cluster
// (leases hash-tagged into one slot) or through Sentinel still share tag answers and fetch a cold blob once.

for (const [kind, start] of [
  ['cluster', startRedisCluster],
  ['sentinel', startRedisWithSentinel],
] as const) {
  describe(`Redis ${kind}`, () => {
    let topology: RedisTopology;
    let upstream: MemoryRegistry;
    let storage: string;
    const mirrors: TestMirror[] = [];

    before(async () => {
      topology = await start();
      upstream = await new MemoryRegistry().start();
      storage = await mkdtemp(path.join(os.tmpdir(), `pullthrough-${kind}-`));
      for (let i = 0; i < 2; i++) {
        mirrors.push(
          await startMirror({ hub: { url: upstream.url, tagTtl: '1h' } }, { keyv: 'configured', storage, extra: { metadata: topology.metadata } }),
        );
      }
    });
    after(async () => {
      for (const mirror of mirrors) await mirror.close({ keepStorage: true });
      await rm(storage, { recursive: true, force: true });
      await upstream.stop();
      await topology.close();
    });

    test('a tag fetched by one replica is served by the other with 0 upstream requests; a cold blob is fetched once', async () => {
      const [first, second] = mirrors as [TestMirror, TestMirror];
      const repository = `team/app-${randomBytes(4).toString('hex')}`;
      const image = upstream.addImage(repository, 'v1', 2 * 1024 * 1024);
      assert.equal((await fetch(`${first.url}/v2/${repository}/manifests/v1`)).status, 200);
      upstream.resetCounts();
      const answer = await fetch(`${second.url}/v2/${repository}/manifests/v1`);
      assert.equal(answer.headers.get('docker-content-digest'), image.digest);
      assert.equal(upstream.requests.length, 0, 'the tag answer came from Redis');

      upstream.trickle = { chunk: 128 * 1024, delayMs: 10 };
      try {
        const bodies = await Promise.all(
          [first, second, first, second].map(async (mirror) => Buffer.from(await (await fetch(`${mirror.url}/v2/${repository}/blobs/${image.layer}`)).arrayBuffer())),
        );
        for (const body of bodies) assert.equal(body.length, 2 * 1024 * 1024);
      } finally {
        upstream.trickle = undefined;
      }
      assert.equal(upstream.count({ method: 'GET', kind: 'blob' }), 1, 'one fetch for both replicas');
    });
  });
}

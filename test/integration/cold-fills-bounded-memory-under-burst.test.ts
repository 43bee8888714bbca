import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Agent, request } from 'undici';
import { BaitServer } from '../support/bait-server.ts';
import { HostileRegistry } from '../support/hostile-registry.ts';
import { stallingBlobs } from '../support/hostile/stalling-blobs.ts';

// Issue 9: 120 cold digests asked at once, from an upstream that sends most of each blob and stalls.
// Every running fill holds its received bytes in memory (up to the 8 MiB recent-chunks window), so the
// fills must be bounded: limits.maxConcurrentFills run, the rest wait limits.fillQueueTimeout and get
// 429. The mirror runs as its own process (src/server.ts) so its peak RSS (VmHWM) is measured alone.

const BLOBS = 120;
const SIZE = 2 * 1024 * 1024;
const MAX_FILLS = 4;
const WINDOW = 8 * 1024 * 1024;
/** Allowed peak growth: the running fills' memory windows, plus room for sockets, parsers and the GC. */
const BOUND = MAX_FILLS * WINDOW + 64 * 1024 * 1024;
const blobs = stallingBlobs(BLOBS, SIZE, { stallAfter: SIZE - 64 * 1024 });
let dir: string;
let bait: BaitServer;
let upstream: HostileRegistry;
let server: ReturnType<typeof spawn>;
let mirrorUrl: string;
let output = '';
const agent = new Agent({ connections: BLOBS * 2 });

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'pullthrough-burst-'));
  bait = await new BaitServer().start();
  upstream = await new HostileRegistry(blobs.scenario, bait).start();
  const config = path.join(dir, 'config.yaml');
  await writeFile(
    config,
    [
      'listen: 127.0.0.1:0',
      'logLevel: info',
      `storage: { path: ${path.join(dir, 'data')} }`,
      'defaultUpstream: hub',
      `upstreams: { hub: { url: "${upstream.url}" } }`,
      `limits: { maxConcurrentFills: ${MAX_FILLS}, maxConcurrentFillsPerClient: ${MAX_FILLS}, fillQueueTimeout: 1s }`,
      '',
    ].join('\n'),
  );
  server = spawn(process.execPath, ['--import', 'tsx', path.resolve('src/server.ts'), '--config', config], {
    env: { ...process.env, PULLTHROUGH_CONFIG: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  server.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  for (let i = 0; i < 150 && !mirrorUrl; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    mirrorUrl = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1] ?? '';
  }
  assert.ok(mirrorUrl, output);
});
after(async () => {
  blobs.release();
  const exited = new Promise((resolve) => server.once('exit', resolve));
  server.kill('SIGTERM');
  await exited;
  await agent.close();
  await upstream.stop();
  await bait.stop();
  await rm(dir, { recursive: true, force: true });
});

async function memory(field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const status = await readFile(`/proc/${server.pid}/status`, 'utf8');
  const kib = Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
  return kib * 1024;
}

test('120 cold blobs at once: the mirror holds at most maxConcurrentFills fills in memory, the rest get 429', async () => {
  // Warm up (routes, the upstream client) so the baseline is a serving process.
  const warm = await request(`${mirrorUrl}/v2/`, { dispatcher: agent });
  await warm.body.dump();
  const baseline = await memory('VmRSS');

  const responses = await Promise.all(
    Array.from({ length: BLOBS }, (_, i) => request(`${mirrorUrl}/v2/burst/app/blobs/${blobs.digestOf(i)}`, { dispatcher: agent })),
  );
  // Let the running fills take in all the upstream sends before it stalls.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const peak = await memory('VmHWM');
  const ok = responses.filter((r) => r.statusCode === 200).length;
  const limited = responses.filter((r) => r.statusCode === 429);
  const upstreamGets = blobs.gets.size;
  blobs.release();
  for (const response of responses) await response.body.dump();
  const grown = peak - baseline;
  process.stdout.write(
    `# burst: ${BLOBS} cold ${SIZE} B blobs, maxConcurrentFills ${MAX_FILLS}: ${ok} served, ${limited.length} answered 429, ` +
      `${upstreamGets} upstream GETs, mirror RSS ${Math.round(baseline / 2 ** 20)} MiB -> peak ${Math.round(peak / 2 ** 20)} MiB (+${Math.round(grown / 2 ** 20)} MiB)\n`,
  );
  assert.ok(grown <= BOUND, `mirror peak RSS grew by ${Math.round(grown / 2 ** 20)} MiB, bound ${BOUND / 2 ** 20} MiB`);
  assert.ok(upstreamGets <= MAX_FILLS, `${upstreamGets} upstream downloads ran at once`);
  assert.equal(ok + limited.length, BLOBS);
  assert.ok(limited.every((r) => r.headers['retry-after'] !== undefined), 'every 429 says when to retry');
});

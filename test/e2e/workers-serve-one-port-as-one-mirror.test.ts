import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { after, before, describe, test } from 'node:test';
import { seedImage, type SeededImage } from './support/images.ts';
import { type MirrorProcess, writeMirrorConfig } from './support/mirror-process.ts';
import { spawnTracked } from './support/tracked-process.ts';
import { skopeoCopy } from './support/skopeo-client.ts';
import { makeTempDir, removeTempDir } from './support/temp-dir.ts';
import { startUpstreamRegistry, type UpstreamRegistry } from './support/upstream-registry.ts';
import { waitFor } from './support/wait-for.ts';
import { answeredBy, getOnNewConnection, readyWorkers, startMirrorWorkers, waitForWorkers, workerLogLines } from './support/mirror-workers.ts';
import { connectionRefused } from './support/connection-refused.ts';

// `workers: 2` (issue 11): two processes serve one port as one mirror. Cold clients of one blob spread over
// both cost one upstream GET; a tag one worker cached is a hit in the other; a worker killed with SIGKILL
// is restarted while the port keeps answering; SIGTERM to the primary lets a download in flight finish
// and stops everything. All of it with Redis and with the embedded metadata store (LMDB, shared by the
// workers; leases as lock files in the store). Which worker answered is read from the workers' request
// log lines (their pid), not from anything clients see.

const REDIS_URL = process.env.PULLTHROUGH_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
let upstream: UpstreamRegistry;
let image: SeededImage;

before(async () => {
  upstream = await startUpstreamRegistry({ auth: 'token' });
  const name = `library/workers-${randomBytes(4).toString('hex')}`;
  image = await seedImage(upstream, { name, tag: 'v1', kind: 'oci', content: 'random', extraLayerBytes: 24 * 1024 * 1024 });
});
after(async () => {
  await upstream?.stop();
});

for (const metadata of ['redis', 'embedded'] as const) {
  describe(`workers: 2 with ${metadata} metadata`, () => {
    let dir: string;
    let mirror: MirrorProcess | undefined;
    let port: number;

    before(async () => {
      dir = await makeTempDir('workers');
      ({ mirror, port } = await startMirrorWorkers(dir, 2, {
        storage: { path: path.join(dir, 'store') },
        ...(metadata === 'redis' && { metadata: { redis: REDIS_URL } }),
        upstreams: { dockerhub: { url: upstream.url, aliases: ['docker.io'], defaultNamespace: 'library', tagTtl: '1h' } },
      }));
    });
    after(async () => {
      await mirror?.proc.stop(2_000);
      await removeTempDir(dir);
    });

    const sha256 = (bytes: Buffer): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    const shortName = (): string => image.name.replace(/^library\//, '');

    test('16 concurrent cold clients of one blob, spread over both workers: 1 upstream GET, 16 whole bodies', async () => {
      const layer = [...image.layers].sort((a, b) => b.size - a.size)[0];
      assert.ok(layer && layer.size > 20 * 1024 * 1024);
      upstream.resetCounts();
      const url = `/v2/${shortName()}/blobs/${layer.digest}`;
      const bodies = await Promise.all(Array.from({ length: 16 }, () => getOnNewConnection(port, url)));
      for (const { status, body } of bodies) {
        assert.equal(status, 200);
        assert.equal(body.length, layer.size);
        assert.equal(sha256(body), layer.digest);
      }
      assert.equal(upstream.count({ method: 'GET', kind: 'blob', status: 200 }), 1, 'exactly one upstream GET between the workers');
      assert.equal((await answeredBy(dir, url, 16)).size, 2, 'both workers served some of the clients');
    });

    test('a tag one worker fetched is a hit in the other: no upstream manifest request', async () => {
      const url = `/v2/${shortName()}/manifests/v1`;
      const accept = { accept: image.mediaType };
      const first = await getOnNewConnection(port, url, accept);
      assert.equal(first.status, 200);
      upstream.resetCounts();
      const answers = await Promise.all(Array.from({ length: 24 }, () => getOnNewConnection(port, url, accept)));
      for (const { status, body } of answers) {
        assert.equal(status, 200);
        assert.equal(sha256(body), image.digest);
      }
      assert.equal(upstream.count({ kind: 'manifest' }), 0, 'served from the shared cache by every worker');
      assert.equal((await answeredBy(dir, url, 25)).size, 2, 'both workers answered the tag');
    });

    /** Sum of pullthrough_requests_total for manifest GETs in one scrape, and the workers its series name. */
    async function scrapeManifestGets(): Promise<{ total: number; workers: Set<string> }> {
      const { status, body } = await getOnNewConnection(port, '/metrics');
      assert.equal(status, 200);
      let total = 0;
      const workers = new Set<string>();
      for (const line of body.toString().split('\n')) {
        if (!line.startsWith('pullthrough_requests_total{') || !line.includes('kind="manifest"') || !line.includes('method="GET"')) continue;
        total += Number(line.slice(line.lastIndexOf(' ') + 1));
        const worker = /worker="(\d+)"/.exec(line)?.[1];
        if (worker !== undefined) workers.add(worker);
      }
      return { total, workers };
    }

    test('/metrics on any worker counts every worker\'s requests, each worker\'s series labelled', async () => {
      const before = await scrapeManifestGets();
      const url = `/v2/${shortName()}/manifests/v1`;
      await Promise.all(Array.from({ length: 20 }, () => getOnNewConnection(port, url, { accept: image.mediaType })));
      const after = await scrapeManifestGets();
      assert.equal(after.total - before.total, 20, 'all 20 requests counted, whichever worker answered them and the scrape');
      assert.deepEqual([...after.workers].sort(), ['0', '1']);
    });

    test('skopeo pulls through the 2-worker mirror; the second pull costs the upstream 0 requests', async () => {
      const ref = `127.0.0.1:${port}/dockerhub/${shortName()}:v1`;
      const first = await skopeoCopy(ref, path.join(dir, 'skopeo-1'));
      assert.ok(first.ok, first.output);
      assert.equal(first.digest, image.digest);
      upstream.resetCounts();
      const second = await skopeoCopy(ref, path.join(dir, 'skopeo-2'));
      assert.ok(second.ok, second.output);
      assert.equal(second.digest, image.digest);
      assert.equal(upstream.count(), 0);
    });

    test('a worker killed with SIGKILL: the port keeps answering and the primary starts a new one', async () => {
      const before = await readyWorkers(dir);
      const victim = before.get(0) as number;
      process.kill(victim, 'SIGKILL');
      // Once the primary knows, every new connection is placed on a live worker. (A connection handed to the
      // victim at the instant it died is lost with it: see src/workers/primary.ts.)
      await waitFor('the primary to notice', async () => ((await workerLogLines(dir)).some((line) => line.msg === 'worker died, restarting it') ? true : undefined), {
        timeoutMs: 10_000,
        intervalMs: 20,
      });
      for (let i = 0; i < 10; i++) assert.equal((await getOnNewConnection(port, '/healthz')).status, 200);
      const replaced = await waitFor(
        'worker 0 to be restarted',
        async () => {
          const pid = (await readyWorkers(dir)).get(0);
          return pid !== undefined && pid !== victim ? pid : undefined;
        },
        { timeoutMs: 20_000, intervalMs: 100 },
      );
      assert.ok(mirror?.proc.isRunning(), 'the primary is still running');
      // The new worker takes connections: some of these reach it.
      const url = `/v2/${shortName()}/manifests/v1?probe=${randomBytes(4).toString('hex')}`;
      await Promise.all(Array.from({ length: 12 }, () => getOnNewConnection(port, url, { accept: image.mediaType })));
      assert.ok((await answeredBy(dir, url, 12)).has(replaced), 'the restarted worker serves requests');
    });


    test('SIGTERM to the primary: the download in flight finishes whole, then every process exits 0', async () => {
      const running = mirror as MirrorProcess;
      const layer = [...image.layers].sort((a, b) => b.size - a.size)[0] as SeededImage['layers'][number];
      const workers = [...(await readyWorkers(dir)).values()];
      const response = await fetch(`${running.url}/v2/${shortName()}/blobs/${layer.digest}`);
      assert.equal(response.status, 200);
      const body = Readable.fromWeb(response.body as WebReadableStream<Uint8Array>)[Symbol.asyncIterator]();
      const first = await body.next();
      assert.ok(!first.done);
      const chunks: Buffer[] = [Buffer.from(first.value as Uint8Array)];

      process.kill(running.proc.pid, 'SIGTERM');
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.ok((chunks[0] as Buffer).length < layer.size, 'the download was still in flight when the signal came');
      assert.ok(await connectionRefused(port), 'new connections are refused while draining');
      for (let next = await body.next(); !next.done; next = await body.next()) chunks.push(Buffer.from(next.value as Uint8Array));
      const whole = Buffer.concat(chunks);
      assert.equal(whole.length, layer.size, 'the in-flight download completed');
      assert.equal(sha256(whole), layer.digest);
      assert.equal(await running.proc.exited, 0);
      for (const pid of workers) assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `worker ${pid} exited`);
      mirror = undefined;
    });
  });
}

/** One HTTPS GET on a TLS connection of its own, offering `session` to resume: whether it resumed, and the ticket it got. */
function tlsGetOnNewConnection(port: number, ca: Buffer, pathAndQuery: string, session?: Buffer): Promise<{ reused: boolean; ticket: Buffer | undefined; response: string }> {
  return new Promise((resolve, reject) => {
    let reused = false;
    let ticket: Buffer | undefined;
    let response = '';
    const socket = tlsConnect({ host: '127.0.0.1', port, ca, ...(session && { session }) });
    socket.setTimeout(15_000, () => socket.destroy(new Error(`no answer to ${pathAndQuery} in time`)));
    socket.once('secureConnect', () => {
      reused = socket.isSessionReused();
      socket.write(`GET ${pathAndQuery} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`);
    });
    // TLS 1.3 tickets come after the handshake, in the data stream.
    socket.on('session', (value: Buffer) => (ticket = value));
    socket.on('data', (chunk: Buffer) => (response += chunk.toString('latin1')));
    socket.once('end', () => resolve({ reused, ticket, response }));
    socket.once('error', reject);
  });
}

describe('workers: 2 over TLS', () => {
  test('a TLS session resumes on either worker: the primary hands both the ticket key in force', async (t) => {
    const dir = await makeTempDir('workers-tls');
    t.after(() => removeTempDir(dir));
    const cert = path.join(dir, 'cert.pem');
    const key = path.join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
    const { file, port } = await writeMirrorConfig(dir, {
      logLevel: 'info',
      workers: 2,
      tls: { cert, key },
      storage: { path: path.join(dir, 'store') },
      upstreams: { dockerhub: { url: upstream.url } },
    });
    const proc = await spawnTracked(process.execPath, ['--import', 'tsx', path.resolve('src/server.ts'), '--config', file], { logFile: path.join(dir, 'mirror.log') });
    t.after(() => proc.stop(2_000));
    await waitForWorkers(dir, 2);
    const ca = await readFile(cert);

    const first = await tlsGetOnNewConnection(port, ca, '/v2/?tls=first');
    assert.match(first.response, /^HTTP\/1\.1 200 /);
    assert.ok(first.ticket, 'the server sent a session ticket');
    const urls: string[] = [];
    for (let i = 0; i < 6; i++) {
      const url = `/v2/?tls=resume-${i}`;
      urls.push(url);
      const again = await tlsGetOnNewConnection(port, ca, url, first.ticket);
      assert.match(again.response, /^HTTP\/1\.1 200 /);
      assert.equal(again.reused, true, `connection ${i} resumed the session`);
    }
    const workers = new Set<number>();
    for (const url of urls) for (const pid of await answeredBy(dir, url, 1)) workers.add(pid);
    assert.equal(workers.size, 2, 'the resumed connections were answered by both workers');
  });
});

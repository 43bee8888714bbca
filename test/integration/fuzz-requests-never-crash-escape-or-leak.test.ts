import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ERROR_CODES } from '../../src/errors.ts';
import { isValidName } from '../../src/reference.ts';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

// Thousands of generated requests (fixed seed) at every route: traversal in names, digests and prefixes
// (.., %2e%2e, %2f, absolute paths, NUL, %00), invalid digests and algorithms, over-long names and tags,
// odd Range headers, unknown and hostile ns and prefixes (a "bait" server's address among them), huge
// headers, bad methods; through app.inject() and as raw bytes over a real socket. Asserted: no 5xx, only
// the spec's JSON errors for 4xx, no file touched outside the storage root (and nothing but verified
// blobs inside it), and no request reaching any host but the configured upstream.

const SEED = 0x5eed;
const INJECTED = 3000;
const RAW = 300;

let upstream: MemoryRegistry;
let bait: http.Server;
let baitHits = 0;
let baitHost = '';
let parent: string;
let mirror: TestMirror;
let image: ReturnType<MemoryRegistry['addImage']>;

before(async () => {
  upstream = await new MemoryRegistry().start();
  image = upstream.addImage('fuzz/app', 'v1', 4096);
  bait = http.createServer((_req, res) => {
    baitHits += 1;
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
  await new Promise<void>((resolve) => bait.listen(0, '127.0.0.1', () => resolve()));
  baitHost = `127.0.0.1:${(bait.address() as AddressInfo).port}`;
  // The storage root inside a parent that also holds a sentinel tree: nothing outside the root may change.
  parent = await mkdtemp(path.join(os.tmpdir(), 'pullthrough-fuzz-'));
  await mkdir(path.join(parent, 'sentinel', 'etc'), { recursive: true });
  await writeFile(path.join(parent, 'sentinel', 'etc', 'passwd'), 'root:x:0:0\n');
  await writeFile(path.join(parent, 'secret.txt'), 'do not serve me\n');
  mirror = await startMirror({ hub: { url: upstream.url, aliases: ['docker.io'], tagTtl: '1h' } }, { storage: path.join(parent, 'storage') });
});
after(async () => {
  await mirror.close({ keepStorage: true });
  await upstream.stop();
  await new Promise<void>((resolve) => bait.close(() => resolve()));
  await rm(parent, { recursive: true, force: true });
});

/** mulberry32: small, fast, and the same sequence on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function snapshot(dir: string, skip: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (current: string): Promise<void> => {
    for (const entry of await readdir(current, { withFileTypes: true })) {
      const full = path.join(current, entry.name);
      if (full === skip) continue;
      const info = await stat(full);
      out.set(path.relative(dir, full), entry.isDirectory() ? 'dir' : `${info.size}:${info.mtimeMs}`);
      if (entry.isDirectory()) await walk(full);
    }
  };
  await walk(dir);
  return out;
}

function generator(random: () => number): { pick<T>(items: readonly T[]): T; request(): { method: string; url: string; headers: Record<string, string> } } {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const hex = (n: number): string => Array.from({ length: n }, () => '0123456789abcdef'[Math.floor(random() * 16)]).join('');
  const layer = image.layer;
  const names = [
    'fuzz/app', 'library/app', 'app', 'fuzz/app/../../../etc', '..', '../..', '../../etc/passwd', '%2e%2e', '%2e%2e%2f%2e%2e', '..%2f..%2fetc',
    'a%2fb', '%2fetc%2fpasswd', '/etc/passwd', '//etc/passwd', 'fuzz/./app', 'a\0b', 'a%00b', '%00', 'fuzz/app%00', 'A/B', 'fuzz/APP',
    'a'.repeat(256), `${'abcdefgh/'.repeat(40)}x`, 'x'.repeat(5000), 'ü/ñ', 'a..b', 'a//b', 'fuzz/app/', `${baitHost}/fuzz/app`, baitHost,
    `localhost:${baitHost.split(':')[1]}/a`, 'docker.io/fuzz/app', 'hub/fuzz/app', 'evil.example.com/a', '@127.0.0.1/a', 'a/%2e%2e/b', 'sentinel/etc',
  ];
  const digests = [
    layer, image.digest, image.config, `sha256:${hex(64)}`, `sha256:${hex(63)}`, `sha256:${hex(65)}`, `sha256:${hex(64).toUpperCase()}`, `sha512:${hex(128)}`,
    `sha512:${hex(64)}`, `md5:${hex(32)}`, `sha1:${hex(40)}`, `SHA256:${hex(64)}`, 'sha256:../../../etc/passwd', 'sha256:..%2f..%2fsecret.txt', `sha256%3A${hex(64)}`,
    `sha256%3a${layer.slice(7)}`, 'sha256:', ':', '', '%00', `sha256:${hex(64)}%00`, `sha256:${hex(64)}\0`, '..', '%2e%2e', 'sha256:%2e%2e', `../${layer}`,
    `sha256:${'0'.repeat(64)}`, `${layer}/..`, `sha256:${hex(64)};x`, 'sha256:' + 'a'.repeat(10_000),
  ];
  const tags = ['v1', 'latest', 'V1', '-bad', '.bad', 'a'.repeat(128), 'a'.repeat(129), 'a'.repeat(5000), '..', '%2e%2e', 'v1%00', 'v1\0', 'v1;rm', 'v1:x', '', '%2fetc'];
  const prefixes = ['', '', '', '/hub', '/docker.io', '/nope', `/${baitHost}`, '/..', '/%2e%2e', '/%2f', '/etc', '/v2', '/HUB', '/127.0.0.1', '/localhost'];
  const queries = ['', '', '', '?ns=docker.io', `?ns=${baitHost}`, '?ns=evil.example.com', '?ns=..', '?ns=%00', '?ns=', '?n=-1&last=..', '?n=99999999999999999999', '?ns=docker.io&ns=' + baitHost, `?last=${'z'.repeat(3000)}`, '?artifactType=../x'];
  const ranges = [undefined, undefined, 'bytes=0-', 'bytes=0-0', 'bytes=-1', 'bytes=-0', 'bytes=5-2', 'bytes=0-99999999999999', 'bytes=99999999999999999999-', 'bytes=0-1,3-4', 'bytes=abc', 'items=0-1', 'bytes=-', 'bytes= 1 - 2 ', `bytes=${'9'.repeat(400)}-`, 'bytes=-99999999999999999999'];
  const methods = ['GET', 'GET', 'GET', 'HEAD', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
  const others = ['/', '/metrics', '/healthz', '/readyz', '/setup/docker', '/setup/../../etc/passwd', '/setup/%2e%2e/secret.txt', '/token', '/v2', '/v2/', '/v2/_catalog', '/../secret.txt', '/%2e%2e/secret.txt', '/blobs/sha256', '/storage/blobs'];
  const request = () => {
    const method = pick(methods);
    let url: string;
    const roll = random();
    if (roll < 0.1) url = pick(others);
    else {
      const name = pick(names);
      const endpoint = pick(['manifests', 'manifests', 'blobs', 'blobs', 'tags', 'referrers', 'uploads']);
      const tail =
        endpoint === 'manifests' ? `manifests/${random() < 0.5 ? pick(tags) : pick(digests)}`
          : endpoint === 'blobs' ? `blobs/${pick(digests)}`
            : endpoint === 'tags' ? 'tags/list'
              : endpoint === 'referrers' ? `referrers/${pick(digests)}`
                : `blobs/uploads/${pick(['', hex(8), '../x'])}`;
      url = `${pick(prefixes)}/v2/${name}/${tail}${pick(queries)}`;
    }
    const headers: Record<string, string> = {};
    const range = pick(ranges);
    if (range !== undefined) headers.range = range;
    if (random() < 0.1) headers.accept = pick(['*/*', 'application/vnd.oci.image.index.v1+json', 'text/html', '\u00ff'.repeat(10)]);
    if (random() < 0.05) headers['x-huge'] = 'h'.repeat(pick([1024, 60_000]));
    if (random() < 0.05) headers.authorization = pick(['Basic Zm9vOmJhcg==', 'Bearer x.y', 'Bearer ' + 'a'.repeat(9000)]);
    if (random() < 0.05) headers.host = pick([baitHost, 'evil.example.com', '..']);
    return { method, url, headers };
  };
  return { pick, request };
}

function assertSpecError(status: number, contentType: string | undefined, body: string, where: string): void {
  assert.match(contentType ?? '', /^application\/json/, `${where}: JSON error`);
  const parsed = JSON.parse(body) as { errors?: Array<{ code?: string; message?: string }> };
  const code = parsed.errors?.[0]?.code ?? '';
  assert.ok(Object.hasOwn(ERROR_CODES, code), `${where}: spec error code, got ${body.slice(0, 200)}`);
  assert.equal(ERROR_CODES[code as keyof typeof ERROR_CODES].status, status, `${where}: status matches ${code}`);
}

test(`${INJECTED} generated requests via inject and ${RAW} raw over a socket: no 5xx, spec errors only, nothing escapes`, async () => {
  const storageRoot = path.join(parent, 'storage');
  const outsideBefore = await snapshot(parent, storageRoot);
  const random = prng(SEED);
  const { request, pick } = generator(random);
  const statuses = new Map<number, number>();
  const tally = (status: number): void => {
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
  };

  for (let i = 0; i < INJECTED; i++) {
    const { method, url, headers } = request();
    const where = `#${i} ${method} ${url.slice(0, 160)} ${JSON.stringify(headers).slice(0, 120)}`;
    const response = await mirror.app.inject({ method: method as 'GET', url, headers });
    tally(response.statusCode);
    assert.ok(response.statusCode < 500, `${where}: ${response.statusCode} ${response.body.slice(0, 300)}`);
    assert.ok([200, 206].includes(response.statusCode) || (response.statusCode >= 400 && response.statusCode < 500), `${where}: ${response.statusCode}`);
    if (response.statusCode >= 400 && method !== 'HEAD') assertSpecError(response.statusCode, response.headers['content-type'] as string | undefined, response.body, where);
    if (method === 'HEAD') assert.equal(response.rawPayload.length, 0, `${where}: HEAD has no body`);
  }

  // Raw bytes over a real socket: what inject cannot send (NUL and spaces in the target, absolute-form
  // targets naming the bait, header blocks past the parser's limit, broken request lines).
  const port = Number(new URL(mirror.url).port);
  const rawTargets = [
    '/v2/a\0b/manifests/v1', '/v2/../../secret.txt', `http://${baitHost}/v2/fuzz/app/manifests/v1`, `//${baitHost}/v2/`, '/v2/fuzz app/manifests/v1',
    '*', `/v2/fuzz/app/blobs/${image.layer}`, '/v2/%00/tags/list', '/\u00e9/v2/', '/v2/fuzz/app/manifests/v1?ns=' + baitHost,
  ];
  for (let i = 0; i < RAW; i++) {
    const target = pick(rawTargets);
    const method = pick(['GET', 'HEAD', 'BREW', 'G\0T', 'CONNECT', 'TRACE']);
    const extra = random() < 0.2 ? `X-Huge: ${'h'.repeat(pick([100, 20_000, 80_000]))}\r\n` : '';
    const hostLine = random() < 0.5 ? `Host: ${baitHost}\r\n` : 'Host: 127.0.0.1\r\n';
    const head = random() < 0.05 ? 'garbage\r\n\r\n' : `${method} ${target} HTTP/1.1\r\n${hostLine}${extra}Connection: close\r\n\r\n`;
    const answer = await rawRequest(port, head);
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);
    tally(status);
    assert.ok(status === 0 || status < 500, `raw #${i} ${JSON.stringify(head.slice(0, 120))}: ${answer.slice(0, 200)}`);
  }

  const ping = await fetch(`${mirror.url}/v2/`);
  assert.equal(ping.status, 200, 'still serving: nothing crashed');
  assert.equal(baitHits, 0, 'the bait server got no request');
  for (const recorded of upstream.requests) {
    // The ping a listing's pass-through sends once to learn the upstream's auth scheme.
    if (recorded.path === '/v2/') continue;
    // Only the configured upstream is asked, and only for names and references that passed the grammar.
    const match = /^\/v2\/(.+)\/(?:manifests\/[^/?]+|blobs\/sha(?:256|512):[0-9a-f]+|tags\/list|referrers\/sha(?:256|512):[0-9a-f]+)(?:\?.*)?$/.exec(recorded.path);
    assert.ok(match && isValidName(match[1] ?? ''), `sane upstream path: ${recorded.path}`);
    assert.ok(!/\.\.|%|\0/.test(recorded.path.split('?')[0] ?? ''), recorded.path);
  }
  assert.deepEqual(await snapshot(parent, storageRoot), outsideBefore, 'nothing outside the storage root changed');
  for (const [relative, kind] of await snapshot(storageRoot, '')) {
    if (kind === 'dir') continue;
    const match = /^blobs\/(sha256)\/([0-9a-f]{2})\/([0-9a-f]{64})$/.exec(relative);
    assert.ok(match, `only content-addressed blobs in the store, found ${relative}`);
    const hash = createHash('sha256').update(await readFile(path.join(storageRoot, relative))).digest('hex');
    assert.equal(hash, match[3], `${relative} holds verified content`);
  }
  const ok = (statuses.get(200) ?? 0) + (statuses.get(206) ?? 0);
  assert.ok(ok > 50 && (statuses.get(206) ?? 0) > 0, `valid-looking requests were served too: ${JSON.stringify([...statuses])}`);
  process.stdout.write(`# fuzz statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}\n`);
});

function rawRequest(port: number, head: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    let size = 0;
    socket.setTimeout(5_000, () => socket.destroy());
    socket.on('data', (chunk: Buffer) => {
      // The status line is all that is looked at; a blob body need not be read whole.
      if (size < 4096) chunks.push(chunk);
      size += chunk.length;
    });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.write(head, 'latin1');
  });
}

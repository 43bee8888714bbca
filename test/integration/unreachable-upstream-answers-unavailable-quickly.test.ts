import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { startMirror, type TestMirror } from '../support/mirror.ts';

let mirror: TestMirror;

/** A loopback port that was just free: connecting to it is refused. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

before(async () => {
  mirror = await startMirror({ hub: { url: `http://127.0.0.1:${await closedPort()}`, defaultNamespace: 'library' } });
});
after(async () => {
  await mirror.close();
});

const digest = `sha256:${'ef'.repeat(32)}`;

for (const [method, path] of [
  ['GET', '/v2/alpine/manifests/latest'],
  ['HEAD', '/v2/alpine/manifests/latest'],
  ['GET', `/v2/alpine/blobs/${digest}`],
  ['HEAD', `/v2/alpine/blobs/${digest}`],
  ['GET', '/v2/alpine/tags/list'],
] as const) {
  test(`${method} ${path.replace(digest, '<digest>')} with the upstream down → 503 UNAVAILABLE in under 3 s`, async () => {
    const started = performance.now();
    const response = await fetch(`${mirror.url}${path}`, { method, signal: AbortSignal.timeout(10_000) });
    const body = await response.text();
    const elapsed = performance.now() - started;
    assert.equal(response.status, 503);
    assert.ok(elapsed < 3000, `answered in ${Math.round(elapsed)} ms`);
    if (method === 'GET') {
      assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
      const parsed = JSON.parse(body) as { errors?: Array<{ code?: unknown; message?: unknown }> };
      assert.equal(parsed.errors?.[0]?.code, 'UNAVAILABLE');
      assert.doesNotMatch(String(parsed.errors?.[0]?.message), /ECONNREFUSED|127\.0\.0\.1/, 'internals never leak');
    }
  });
}

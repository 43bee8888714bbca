import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { runCli } from '../support/cli.ts';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';

// `pullthrough quota` shows what the running mirror knows of each upstream's pull quota (issue 15).

let hub: MemoryRegistry;
let plain: MemoryRegistry;
let mirror: TestMirror;

before(async () => {
  hub = await new MemoryRegistry({ rateLimit: { limit: 100, remaining: 12, windowMs: 21_600_000 } }).start();
  plain = await new MemoryRegistry().start();
  mirror = await startMirror({ hub: { url: hub.url, quota: { reserve: '10%' } }, other: { url: plain.url } });
});
after(async () => {
  await mirror.close();
  await hub.stop();
  await plain.stop();
});

test('a row per upstream that sent figures: left, limit, window, reset, reserve, state', async () => {
  hub.addImage('app/one', 'v1');
  assert.equal((await mirror.app.inject({ url: '/v2/app/one/manifests/v1' })).statusCode, 200);
  const table = await runCli(['quota', '--mirror', mirror.url]);
  assert.equal(table.status, 0, table.stderr);
  assert.match(table.stdout, /^UPSTREAM\s+CREDENTIAL\s+LEFT\s+LIMIT\s+WINDOW\s+RESETS\s+RESERVE\s+STATE$/m);
  assert.match(table.stdout, /^hub\s+anonymous\s+11\s+100\s+6h00m\s+in ~(5h59m|6h00m)\s+10\s+open$/m);
  assert.ok(!table.stdout.includes('other'), 'an upstream without ratelimit headers is not listed');
  const json = await runCli(['quota', '--mirror', mirror.url, '--json']);
  const rows = JSON.parse(json.stdout) as Array<{ upstream: string; remaining: number; state: string }>;
  assert.deepEqual(rows.map((r) => [r.upstream, r.remaining, r.state]), [['hub', 11, 'open']]);
});

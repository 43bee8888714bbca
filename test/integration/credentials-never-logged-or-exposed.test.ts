import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import Keyv from 'keyv';
import pino from 'pino';
import { buildApp, REDACTED_PATHS } from '../../src/app.ts';
import { parseConfig } from '../../src/config.ts';
import { type Account, basic, writeHtpasswdFile } from '../support/client-accounts.ts';
import { MemoryRegistry } from '../support/memory-registry.ts';

// Secrets — client passwords, upstream passwords (from env and from a file), the Basic headers made of
// them, the mirror's tokens and the upstream's tokens — never show up in the log (captured at trace
// level), in any response a client gets (error messages included) or in /metrics, across authenticated
// pulls, refused logins, credentialed upstream fetches and an upstream that refuses the mirror's login.

const secret = (label: string): string => `${label}-${randomBytes(9).toString('hex')}`;
const client: Account = { username: 'dora', password: secret('clientpw') };
const wrongClientPassword = secret('wrongclientpw');
const upstreamEnvPassword = secret('upstreamenvpw');
const upstreamFilePassword = secret('upstreamfilepw');
const refusedUpstreamPassword = secret('refusedpw');
const envName = 'PULLTHROUGH_TEST_SECRET_ENV';
const refusedEnvName = 'PULLTHROUGH_TEST_REFUSED_ENV';

let dir: string;
let tokenUpstream: MemoryRegistry;
let basicUpstream: MemoryRegistry;
let refusingUpstream: MemoryRegistry;
let app: FastifyInstance;
let url: string;
let logText = '';
const seen: string[] = [];

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'pullthrough-secrets-'));
  await writeHtpasswdFile(path.join(dir, 'htpasswd'), [client]);
  await writeFile(path.join(dir, 'upstream-password'), `${upstreamFilePassword}\n`);
  process.env[envName] = upstreamEnvPassword;
  process.env[refusedEnvName] = refusedUpstreamPassword;
  tokenUpstream = await new MemoryRegistry({ tokenAuth: true, tokenCredentials: { username: 'svc', password: upstreamEnvPassword } }).start();
  basicUpstream = await new MemoryRegistry({ basicAuth: { username: 'svc', password: upstreamFilePassword } }).start();
  // Wants another password than the one configured: the mirror's login is refused.
  refusingUpstream = await new MemoryRegistry({ tokenAuth: true, tokenCredentials: { username: 'svc', password: 'something-else' } }).start();
  const config = parseConfig({
    listen: '127.0.0.1:0',
    logLevel: 'trace',
    storage: { path: path.join(dir, 'storage') },
    defaultUpstream: 'hub',
    upstreamTimeouts: { connect: '2s', idle: '5s' },
    auth: { htpasswd: path.join(dir, 'htpasswd') },
    upstreams: {
      hub: { url: tokenUpstream.url, username: 'svc', passwordEnv: envName },
      corp: { url: basicUpstream.url, username: 'svc', passwordFile: path.join(dir, 'upstream-password') },
      refused: { url: refusingUpstream.url, username: 'svc', passwordEnv: refusedEnvName },
    },
  });
  const stream = new PassThrough();
  stream.on('data', (chunk: Buffer) => (logText += chunk.toString('utf8')));
  const logger = pino({ level: 'trace', redact: { paths: REDACTED_PATHS, censor: '[redacted]' } }, stream);
  app = await buildApp(config, { keyv: new Keyv(), logger });
  url = await app.listen({ host: '127.0.0.1', port: 0 });
});
after(async () => {
  await app.close();
  await Promise.all([tokenUpstream.stop(), basicUpstream.stop(), refusingUpstream.stop()]);
  await rm(dir, { recursive: true, force: true });
});

/** Fetches and records everything the client could see: status, headers and body. */
async function see(target: string, init: RequestInit = {}): Promise<Response> {
  const response = await fetch(`${url}${target}`, init);
  const body = await response.clone().text();
  seen.push(`${response.status} ${JSON.stringify([...response.headers])} ${body}`);
  return response;
}

test('no secret appears in logs, responses or /metrics', async () => {
  const hubImage = tokenUpstream.addImage('team/app', 'v1');
  const corpImage = basicUpstream.addImage('corp/app', 'v1');
  refusingUpstream.addImage('other/app', 'v1');

  // The token flow as docker runs it, then pulls with the token and with Basic.
  assert.equal((await see('/v2/')).status, 401);
  assert.equal((await see('/token?service=pullthrough', { headers: { authorization: basic({ ...client, password: wrongClientPassword }) } })).status, 401);
  const tokenResponse = await fetch(`${url}/token?service=pullthrough&scope=repository:team/app:pull`, { headers: { authorization: basic(client) } });
  const { token } = (await tokenResponse.json()) as { token: string };
  const bearer = { authorization: `Bearer ${token}` };
  assert.equal((await see('/v2/hub/team/app/manifests/v1', { headers: bearer })).status, 200);
  assert.equal((await see(`/v2/hub/team/app/blobs/${hubImage.layer}`, { headers: bearer })).status, 200);
  assert.equal((await see('/v2/hub/team/app/tags/list', { headers: bearer })).status, 200);
  assert.equal((await see('/v2/corp/corp/app/manifests/v1', { headers: { authorization: basic(client) } })).status, 200);
  assert.equal((await see(`/v2/corp/corp/app/blobs/${corpImage.layer}`, { headers: { authorization: basic(client) } })).status, 200);
  const form = new URLSearchParams({ grant_type: 'password', username: client.username, password: wrongClientPassword });
  assert.equal((await see('/token', { method: 'POST', body: form })).status, 401);
  // The upstream refuses the mirror's credentials: an error for the client, a warning in the log.
  const refused = await see('/v2/refused/other/app/manifests/v1', { headers: bearer });
  assert.ok(refused.status >= 400);
  assert.ok(tokenUpstream.count({ kind: 'token' }) > 0 && basicUpstream.requests.some((r) => r.authorization?.startsWith('Basic ')));
  await see('/metrics', { headers: bearer });
  await see('/', { headers: bearer });

  const upstreamTokens = tokenUpstream.requests.map((r) => r.authorization?.replace(/^Bearer /, '')).filter((t): t is string => !!t && t.startsWith('t-'));
  assert.ok(upstreamTokens.length > 0, 'the upstream did get its tokens');
  const secrets: Record<string, string> = {
    'client password': client.password,
    'wrong client password': wrongClientPassword,
    'upstream password (env)': upstreamEnvPassword,
    'upstream password (file)': upstreamFilePassword,
    'refused upstream password': refusedUpstreamPassword,
    'client Basic header': basic(client).slice('Basic '.length),
    'upstream Basic header': basic({ username: 'svc', password: upstreamFilePassword }).slice('Basic '.length),
    "the mirror's token": token,
    ...Object.fromEntries(upstreamTokens.map((t, i) => [`upstream token ${i}`, t])),
  };
  assert.ok(logText.includes('"account":"dora"'), 'the log was captured and names the account');
  const everything = { log: logText, responses: seen.join('\n') };
  for (const [where, text] of Object.entries(everything)) {
    for (const [what, value] of Object.entries(secrets)) {
      assert.ok(!text.includes(value), `${what} appears in ${where}`);
    }
  }
});

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { Agent, fetch as undiciFetch } from 'undici';
import { buildApp } from '../../src/app.ts';
import { ConfigError, parseConfig } from '../../src/config.ts';
import { MemoryRegistry } from '../support/memory-registry.ts';
import { startMirror, type TestMirror } from '../support/mirror.ts';
import { forgetInheritedSecrets, ticketKeysForWorker } from '../../src/workers/worker-secrets.ts';
import { TICKET_KEY_BYTES, TicketKeyRatchet } from '../../src/tls-ticket-keys.ts';

// `tls: { cert, key }` makes the mirror HTTPS; clients that trust the certificate pull through it.

let dir: string;
let upstream: MemoryRegistry;
let mirror: TestMirror;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'pullthrough-tls-'));
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
    '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'),
  ], { stdio: 'ignore' });
  upstream = await new MemoryRegistry().start();
  mirror = await startMirror({ hub: { url: upstream.url } }, { extra: { tls: { cert: path.join(dir, 'cert.pem'), key: path.join(dir, 'key.pem') } } });
});
after(async () => {
  await mirror.close();
  await upstream.stop();
  await rm(dir, { recursive: true, force: true });
});

test('a client trusting the certificate pulls over HTTPS; one that does not is refused', async () => {
  assert.match(mirror.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const image = upstream.addImage('tls/app', 'v1');
  const trusting = new Agent({ connect: { ca: await readFile(path.join(dir, 'cert.pem')) } });
  try {
    const manifest = await undiciFetch(`${mirror.url}/v2/tls/app/manifests/v1`, { dispatcher: trusting });
    assert.equal(manifest.status, 200);
    assert.equal(manifest.headers.get('docker-content-digest'), image.digest);
    const blob = await undiciFetch(`${mirror.url}/v2/tls/app/blobs/${image.layer}`, { dispatcher: trusting });
    assert.equal(Buffer.from(await blob.arrayBuffer()).length, 1024);
  } finally {
    await trusting.close();
  }
  await assert.rejects(fetch(`${mirror.url}/v2/`), 'an untrusted self-signed certificate fails verification');
  await assert.rejects(fetch(mirror.url.replace('https:', 'http:') + '/v2/'), 'plain HTTP is not served on a TLS port');
});

test('an unreadable key or a file that is not PEM stops the start with a message naming the key', async () => {
  await writeFile(path.join(dir, 'not-pem.txt'), 'hello');
  const config = parseConfig({
    storage: { path: path.join(dir, 'store') },
    defaultUpstream: 'hub',
    upstreams: { hub: { url: upstream.url } },
    tls: { cert: path.join(dir, 'not-pem.txt'), key: path.join(dir, 'missing.pem') },
  });
  await assert.rejects(buildApp(config, { logger: false }), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.match(error.message, /tls\.cert: .*not-pem\.txt is not a PEM file/);
    assert.match(error.message, /tls\.key: cannot read .*missing\.pem \(ENOENT\)/);
    return true;
  });
  // A key that is not the certificate's: caught at start, not on the first handshake.
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=other',
    '-keyout', path.join(dir, 'other-key.pem'), '-out', path.join(dir, 'other-cert.pem')], { stdio: 'ignore' });
  const mismatched = parseConfig({
    storage: { path: path.join(dir, 'store') },
    defaultUpstream: 'hub',
    upstreams: { hub: { url: upstream.url } },
    tls: { cert: path.join(dir, 'cert.pem'), key: path.join(dir, 'other-key.pem') },
  });
  await assert.rejects(buildApp(mismatched, { logger: false }), /tls: the certificate and key do not make a TLS context/);
});

/** A TLS 1.3 session ticket from the server at `url`, for resuming later. */
function sessionTicket(url: string, ca: Buffer): Promise<Buffer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: hostname, port: Number(port), ca });
    socket.once('error', reject);
    // The ticket comes after the handshake, in the data stream: keep reading.
    socket.resume();
    socket.once('session', (ticket: Buffer) => {
      socket.end();
      resolve(ticket);
    });
  });
}

/** Whether a connection to `url` offering `ticket` resumed the session (no full handshake). */
function resumes(url: string, ca: Buffer, ticket: Buffer): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: hostname, port: Number(port), ca, session: ticket });
    socket.once('error', reject);
    socket.once('secureConnect', () => {
      resolve(socket.isSessionReused());
      socket.end();
    });
  });
}

test('workers given the same ticket key resume each other’s TLS sessions, also after the key steps; old tickets stop resuming', async (t) => {
  const tls = { cert: path.join(dir, 'cert.pem'), key: path.join(dir, 'key.pem') };
  const ca = await readFile(tls.cert);
  const start = async (keys: Record<string, string> | undefined): Promise<TestMirror> => {
    if (keys) Object.assign(process.env, keys);
    try {
      return await startMirror({ hub: { url: upstream.url } }, { extra: { tls } });
    } finally {
      forgetInheritedSecrets();
    }
  };
  // What a primary hands its workers: the key in force and the instant of its next step, here 1.5 s away
  // (the configured period, at least 5 minutes, applies after that).
  const STEP_IN_MS = 1500;
  const shared = ticketKeysForWorker(new TicketKeyRatchet({ key: randomBytes(TICKET_KEY_BYTES), rotatesAt: Date.now() + STEP_IN_MS }, 3_600_000));
  const first = await start(shared);
  const second = await start(shared);
  const stranger = await start(undefined);
  t.after(() => Promise.all([first.close(), second.close(), stranger.close()]));

  const ticket = await sessionTicket(first.url, ca);
  assert.equal(await resumes(first.url, ca, ticket), true, 'the same worker resumes');
  assert.equal(await resumes(second.url, ca, ticket), true, 'another worker with the shared key resumes');
  assert.equal(await resumes(stranger.url, ca, ticket), false, 'a server with a key of its own does a full handshake');

  await new Promise((resolve) => setTimeout(resolve, STEP_IN_MS + 300));
  assert.equal(await resumes(first.url, ca, ticket), false, 'after the step, a ticket of the old key is not accepted');
  assert.equal(await resumes(second.url, ca, ticket), false, 'nor on the other worker');
  const next = await sessionTicket(second.url, ca);
  assert.equal(await resumes(first.url, ca, next), true, 'both stepped to the same key: a new ticket resumes on the other worker');
});

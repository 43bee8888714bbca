// TLS for the bench's HTTPS rows (issue 11): a self-signed certificate made for the run, and a probe that shows
// whether a server resumes TLS sessions — what a client reconnecting for every request (dockerd) relies on.

import { join } from 'node:path';
import { runCommand } from '../e2e/support/run-command.ts';
import type { TlsFiles } from './systems.ts';

/** ECDSA P-256 (what certbot issues by default), for 127.0.0.1, valid two days. */
export async function makeSelfSignedCert(dir: string): Promise<TlsFiles> {
  const files = { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
  const res = await runCommand('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', files.key, '-out', files.cert,
  ]);
  if (res.code !== 0) throw new Error(`openssl req failed: ${res.stderr}`);
  return files;
}

export interface ResumptionProbe {
  /** Connections after the first that resumed the first one's session ("Reused" in s_client's summary). */
  reused: number;
  tries: number;
  protocol: string;
}

/**
 * One full handshake saving its session (`openssl s_client -sess_out`), then `tries` new connections offering it
 * (`-sess_in`). Each sends an HTTP request with Connection: close and reads to the end (-ign_eof), so a TLS 1.3
 * ticket, which arrives after the handshake, is read before the session is saved.
 */
export async function probeResumption(url: string, dir: string, tries: number): Promise<ResumptionProbe> {
  const { host } = new URL(url);
  const session = join(dir, `session-${host.replace(':', '-')}`);
  const request = `GET /v2/ HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`;
  const connect = async (sessionArg: string[]): Promise<string> => {
    const res = await runCommand('openssl', ['s_client', '-connect', host, '-servername', 'localhost', '-ign_eof', ...sessionArg], { input: request, timeoutMs: 10_000 });
    return /^(New|Reused), (\S+),/m.exec(res.stdout)?.[0] ?? `no session line (${res.code}): ${res.stderr.slice(0, 200)}`;
  };
  const first = await connect(['-sess_out', session]);
  if (!first.startsWith('New')) throw new Error(`TLS probe of ${url}: ${first}`);
  let reused = 0;
  for (let i = 0; i < tries; i++) if ((await connect(['-sess_in', session])).startsWith('Reused')) reused += 1;
  return { reused, tries, protocol: /^New, (\S+),/.exec(first)?.[1] ?? '?' };
}

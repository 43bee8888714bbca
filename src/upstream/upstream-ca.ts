// `upstreams.<name>.ca` (issue 9): a PEM bundle of CAs trusted for that upstream's TLS connections besides
// the default roots (a private registry with its own CA). Read at start, so a bad file stops the start
// with a message naming the key, like the mirror's own TLS files.

import { readFileSync } from 'node:fs';
import { createSecureContext, rootCertificates } from 'node:tls';
import { type Config, ConfigError, type UpstreamConfig } from '../config.ts';

/** The CAs to verify this upstream's certificates with, or undefined for the defaults; throws ConfigError. */
export function upstreamCa(upstream: Pick<UpstreamConfig, 'name' | 'ca'>): string[] | undefined {
  if (!upstream.ca) return undefined;
  const { pem, problem } = readPem(upstream);
  if (problem !== undefined) throw new ConfigError('config', [problem]);
  // `ca` replaces the default roots in Node's TLS: keep them, the bundle only adds.
  return [...rootCertificates, pem];
}

/** Problems with every configured CA bundle, found before anything starts (also for `config check`). */
export function upstreamCaProblems(config: Config): string[] {
  return Object.values(config.upstreams).flatMap((upstream) => {
    const { problem } = readPem(upstream);
    return problem === undefined ? [] : [problem];
  });
}

function readPem(upstream: Pick<UpstreamConfig, 'name' | 'ca'>): { pem: string; problem?: string } {
  const file = upstream.ca;
  if (!file) return { pem: '' };
  const key = `upstreams.${upstream.name}.ca`;
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (error) {
    return { pem: '', problem: `${key}: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? String(error)})` };
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) return { pem, problem: `${key}: ${file} is not a PEM certificate bundle` };
  try {
    createSecureContext({ ca: pem });
  } catch (error) {
    return { pem, problem: `${key}: ${file} holds no usable certificate (${(error as Error).message})` };
  }
  return { pem };
}

// Upstream credentials: the username is in the config, the secret comes from an environment variable or
// a file (a mounted secret), read when needed so a rotated file is picked up without a restart.

import { readFileSync } from 'node:fs';
import type { Config, UpstreamConfig } from '../config.ts';
import { upstreamCaProblems } from './upstream-ca.ts';

export interface Credentials {
  username: string;
  password: string;
}

export function readCredentials(upstream: UpstreamConfig, env: NodeJS.ProcessEnv = process.env): Credentials | undefined {
  if (!upstream.username) return undefined;
  let password = '';
  if (upstream.passwordEnv) password = env[upstream.passwordEnv] ?? '';
  else if (upstream.passwordFile) password = readFileSync(upstream.passwordFile, 'utf8').trim();
  return { username: upstream.username, password };
}

export function basicAuthorization(credentials: Credentials): string {
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
}

/**
 * Secrets that cannot be read, found at start rather than on the first pull; with them the upstreams' CA
 * bundles (issue 9), so `config check` reports a bad one too.
 */
export function credentialProblems(config: Config, env: NodeJS.ProcessEnv = process.env): string[] {
  const problems: string[] = [];
  for (const upstream of Object.values(config.upstreams)) {
    if (upstream.passwordEnv && env[upstream.passwordEnv] === undefined) {
      problems.push(`upstreams.${upstream.name}.passwordEnv: environment variable ${upstream.passwordEnv} is not set`);
    }
    if (upstream.passwordFile) {
      try {
        readFileSync(upstream.passwordFile, 'utf8');
      } catch (error) {
        problems.push(`upstreams.${upstream.name}.passwordFile: cannot read ${upstream.passwordFile} (${(error as NodeJS.ErrnoException).code})`);
      }
    }
  }
  return [...problems, ...upstreamCaProblems(config)];
}

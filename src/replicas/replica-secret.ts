// The secret replicas share for their internal endpoint (config `replicas`, issue 10): read once at start,
// like auth.secretEnv/secretFile, and compared in constant time.

import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Config } from '../config.ts';

/** Header that carries the secret on requests between replicas (not Authorization: client auth owns that). */
export const REPLICA_SECRET_HEADER = 'x-pullthrough-replica-secret';

/** Shorter secrets are refused at start: the endpoint serves any blob being filled. */
const MIN_SECRET_LENGTH = 16;

/** The configured secret, or undefined when replicas.secretEnv/secretFile are not set (no internal endpoint). */
export function replicaSecret(config: Config['replicas'], env: NodeJS.ProcessEnv = process.env): string | undefined {
  let secret: string | undefined;
  if (config?.secretEnv) {
    secret = env[config.secretEnv];
    if (!secret) throw new Error(`replicas.secretEnv: environment variable ${config.secretEnv} is not set`);
  } else if (config?.secretFile) {
    secret = readFileSync(config.secretFile, 'utf8').trim();
  } else {
    return undefined;
  }
  if (secret.length < MIN_SECRET_LENGTH) throw new Error(`replicas: the shared secret must be at least ${MIN_SECRET_LENGTH} characters`);
  return secret;
}

/** Whether `given` is the secret; hashing both first makes the comparison's time independent of lengths too. */
export function secretMatches(given: string | undefined, secret: string): boolean {
  if (given === undefined) return false;
  const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(secret));
}

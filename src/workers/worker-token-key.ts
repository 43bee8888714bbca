// Client-auth tokens across workers (issue 11): without auth.secretEnv/secretFile each process signs its
// tokens with a random key of its own, so with `workers: N` a token from one worker's /token would be
// refused by the next connection's worker, and clients would log in again and again. The primary makes
// one random key and hands it to its workers through their environment (never logged, never on disk);
// like the per-process key, it dies with the server.

import { randomBytes } from 'node:crypto';

/** The variable the primary sets for its workers; not a setting for users. */
export const TOKEN_KEY_ENV = 'PULLTHROUGH_WORKER_TOKEN_KEY';

/** A fresh key for a primary to give every worker it forks: { [TOKEN_KEY_ENV]: hex }. */
export function tokenKeyForWorkers(): Record<string, string> {
  return { [TOKEN_KEY_ENV]: randomBytes(32).toString('hex') };
}

/** The key a worker was given; undefined outside workers (each process then makes its own). */
export function inheritedTokenKey(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const hex = env[TOKEN_KEY_ENV];
  return hex !== undefined && /^[0-9a-f]{64}$/.test(hex) ? hex : undefined;
}

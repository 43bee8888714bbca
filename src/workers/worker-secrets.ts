// Secrets the primary of `workers: N` makes once and hands every worker it forks (issue 11), so that what
// one worker issued is good on the others — each process would otherwise make random ones of its own:
//   - TLS session-ticket keys: a reconnect resumes its TLS session on whichever worker it reaches;
//   - the client-auth token key (without auth.secretEnv/secretFile): a token from one worker's /token is
//     accepted by the next connection's worker, instead of clients logging in again and again.
// They travel through the workers' environment (never logged, never on disk), are read while the app is
// built, then removed (forgetInheritedSecrets), so they are not in /proc/PID/environ for the worker's
// whole life, in a diagnostic report, or in the environment of anything it starts.

import { randomBytes } from 'node:crypto';

const SECRETS = {
  // Node's ticketKeys: 16 bytes of name, 16 of HMAC secret, 16 of AES key.
  ticketKeys: { env: 'PULLTHROUGH_WORKER_TLS_TICKET_KEYS', bytes: 48 },
  tokenKey: { env: 'PULLTHROUGH_WORKER_TOKEN_KEY', bytes: 32 },
} as const;

type SecretName = keyof typeof SECRETS;

/** Fresh secrets for a primary to put in the environment of every worker it forks. */
export function secretsForWorkers(): Record<string, string> {
  return Object.fromEntries(Object.values(SECRETS).map(({ env, bytes }) => [env, randomBytes(bytes).toString('hex')]));
}

/** The secret a worker was given, as hex; undefined outside workers (or if it is malformed). */
function inherited(name: SecretName, env: NodeJS.ProcessEnv): string | undefined {
  const { env: variable, bytes } = SECRETS[name];
  const hex = env[variable];
  return hex !== undefined && hex.length === bytes * 2 && /^[0-9a-f]+$/.test(hex) ? hex : undefined;
}

/** The TLS ticket keys a worker was given, as the https server option; none outside workers (Node's own). */
export function inheritedTicketKeys(env: NodeJS.ProcessEnv = process.env): { ticketKeys: Buffer } | undefined {
  const hex = inherited('ticketKeys', env);
  return hex === undefined ? undefined : { ticketKeys: Buffer.from(hex, 'hex') };
}

/** The client-auth token key a worker was given; undefined outside workers (each process makes its own). */
export function inheritedTokenKey(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return inherited('tokenKey', env);
}

export function forgetInheritedSecrets(env: NodeJS.ProcessEnv = process.env): void {
  for (const { env: variable } of Object.values(SECRETS)) delete env[variable];
}

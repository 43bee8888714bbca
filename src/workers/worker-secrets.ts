// Secrets the primary of `workers: N` makes once and hands every worker it forks (issue 11), so that what
// one worker issued is good on the others — each process would otherwise make random ones of its own:
//   - TLS session-ticket keys: a reconnect resumes its TLS session on whichever worker it reaches. These
//     change on a schedule (src/tls-ticket-keys.ts), so each fork is given the key in force at that moment
//     and the instant of its next step;
//   - the client-auth token key (without auth.secretEnv/secretFile): a token from one worker's /token is
//     accepted by the next connection's worker, instead of clients logging in again and again.
// They travel through the workers' environment (never logged, never on disk), are read while the app is
// built, then removed (forgetInheritedSecrets), so they are not in /proc/PID/environ for the worker's
// whole life, in a diagnostic report, or in the environment of anything it starts.

import { randomBytes } from 'node:crypto';
import { TICKET_KEY_BYTES, type TicketKeyRatchet, type TicketKeyState } from '../tls-ticket-keys.ts';

const SECRETS = {
  tokenKey: { env: 'PULLTHROUGH_WORKER_TOKEN_KEY', bytes: 32 },
} as const;

const TICKET_KEY_ENV = 'PULLTHROUGH_WORKER_TLS_TICKET_KEY';
const TICKET_ROTATES_AT_ENV = 'PULLTHROUGH_WORKER_TLS_TICKET_ROTATES_AT';

type SecretName = keyof typeof SECRETS;

/** Fresh secrets, made once, for a primary to put in the environment of every worker it forks. */
export function secretsForWorkers(): Record<string, string> {
  return Object.fromEntries(Object.values(SECRETS).map(({ env, bytes }) => [env, randomBytes(bytes).toString('hex')]));
}

/** For the environment of a worker forked now: the ticket key in force and when it steps. */
export function ticketKeysForWorker(ratchet: TicketKeyRatchet, now = Date.now()): Record<string, string> {
  const { key, rotatesAt } = ratchet.at(now);
  return { [TICKET_KEY_ENV]: key.toString('hex'), [TICKET_ROTATES_AT_ENV]: String(rotatesAt) };
}

/** Hex of the given length in env[variable]; undefined outside workers (or if it is malformed). */
function inheritedHex(variable: string, bytes: number, env: NodeJS.ProcessEnv): string | undefined {
  const hex = env[variable];
  return hex !== undefined && hex.length === bytes * 2 && /^[0-9a-f]+$/.test(hex) ? hex : undefined;
}

function inherited(name: SecretName, env: NodeJS.ProcessEnv): string | undefined {
  return inheritedHex(SECRETS[name].env, SECRETS[name].bytes, env);
}

/** The TLS ticket key a worker was given and when it steps; undefined outside workers (a fresh one then). */
export function inheritedTicketKeys(env: NodeJS.ProcessEnv = process.env): TicketKeyState | undefined {
  const hex = inheritedHex(TICKET_KEY_ENV, TICKET_KEY_BYTES, env);
  const rotatesAt = Number(env[TICKET_ROTATES_AT_ENV]);
  return hex === undefined || !Number.isSafeInteger(rotatesAt) ? undefined : { key: Buffer.from(hex, 'hex'), rotatesAt };
}

/** The client-auth token key a worker was given; undefined outside workers (each process makes its own). */
export function inheritedTokenKey(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return inherited('tokenKey', env);
}

export function forgetInheritedSecrets(env: NodeJS.ProcessEnv = process.env): void {
  for (const { env: variable } of Object.values(SECRETS)) delete env[variable];
  delete env[TICKET_KEY_ENV];
  delete env[TICKET_ROTATES_AT_ENV];
}

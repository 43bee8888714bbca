// TLS session resumption across workers (issue 11): a client resumes a session by showing a ticket the
// server encrypted with its ticket keys. Node gives every TLS server random keys of its own, so with
// `workers: N` a ticket issued by one worker is useless on the next connection, which the kernel or the
// primary hands to another worker — every reconnect would pay a full handshake. The primary makes one
// set of keys and hands it to its workers through their environment (never logged, never on disk).

import { randomBytes } from 'node:crypto';

/** The variable the primary sets for its workers; not a setting for users. */
export const TICKET_KEYS_ENV = 'PULLTHROUGH_WORKER_TLS_TICKET_KEYS';
/** Node's ticketKeys: 16 bytes of name, 16 of HMAC secret, 16 of AES key. */
const TICKET_KEYS_BYTES = 48;

/** Fresh keys for a primary to give every worker it forks: { [TICKET_KEYS_ENV]: hex }. */
export function ticketKeysForWorkers(): Record<string, string> {
  return { [TICKET_KEYS_ENV]: randomBytes(TICKET_KEYS_BYTES).toString('hex') };
}

/** The keys a worker was given, as the https server option; none outside workers (Node's own then). */
export function inheritedTicketKeys(env: NodeJS.ProcessEnv = process.env): { ticketKeys: Buffer } | undefined {
  const hex = env[TICKET_KEYS_ENV];
  if (hex === undefined || !/^[0-9a-f]+$/.test(hex) || hex.length !== TICKET_KEYS_BYTES * 2) return undefined;
  return { ticketKeys: Buffer.from(hex, 'hex') };
}

// The secrets a primary hands its workers through their environment (TLS ticket keys, the client-auth
// token key): read by the app while it is built, then removed, so they are not in /proc/PID/environ for
// the worker's whole life, in a diagnostic report, or in the environment of anything it starts.

import { TICKET_KEYS_ENV } from '../tls-ticket-keys.ts';
import { TOKEN_KEY_ENV } from './worker-token-key.ts';

export function forgetInheritedSecrets(env: NodeJS.ProcessEnv = process.env): void {
  delete env[TICKET_KEYS_ENV];
  delete env[TOKEN_KEY_ENV];
}

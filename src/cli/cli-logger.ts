// Commands other than serve log only warnings and errors, to stderr, so their stdout stays a report.

import pino from 'pino';
import type { Logger } from '../logger.ts';

export function cliLogger(): Logger {
  return pino({ level: process.env.PULLTHROUGH_LOG_LEVEL ?? 'warn' }, pino.destination(2));
}

// Commands other than serve log only warnings and errors, to stderr, so their stdout stays a report — and
// as lines a person reads next to the command's own output (`pullthrough gc: warning: ...`), not pino's
// JSON (issue 12). PULLTHROUGH_LOG_LEVEL=debug shows more.

import pino from 'pino';
import type { Logger } from '../logger.ts';
import { humanLine } from './log-lines.ts';

export function cliLogger(command: string): Logger {
  return pino({ level: process.env.PULLTHROUGH_LOG_LEVEL ?? 'warn' }, { write: (line: string) => process.stderr.write(humanLine(`pullthrough ${command}: `, line)) });
}

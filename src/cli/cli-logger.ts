// Commands other than serve log only warnings and errors, to stderr, so their stdout stays a report — and
// as lines a person reads next to the command's own output (`pullthrough gc: warning: ...`), not pino's
// JSON (issue 12). PULLTHROUGH_LOG_LEVEL=debug shows more.

import pino from 'pino';
import type { Logger } from '../logger.ts';

const LEVEL_NAMES: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warning', 50: 'error', 60: 'fatal' };
/** Fields pino adds to every line that a person at a terminal does not need. */
const NOISE = new Set(['level', 'time', 'pid', 'hostname', 'msg']);

export function cliLogger(command: string): Logger {
  return pino({ level: process.env.PULLTHROUGH_LOG_LEVEL ?? 'warn' }, { write: (line: string) => process.stderr.write(humanLine(command, line)) });
}

/** One pino JSON line as `pullthrough COMMAND: LEVEL: message (key=value, ...)`. */
export function humanLine(command: string, json: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const level = LEVEL_NAMES[Number(entry.level)] ?? 'log';
  const details = Object.entries(entry)
    .filter(([key]) => !NOISE.has(key))
    .map(([key, value]) => `${key}=${key === 'err' && value && typeof value === 'object' ? String((value as { message?: unknown }).message) : JSON.stringify(value)}`);
  return `pullthrough ${command}: ${level}: ${String(entry.msg ?? '')}${details.length ? ` (${details.join(', ')})` : ''}\n`;
}

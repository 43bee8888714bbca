// Pino JSON lines turned into lines a person reads (issue 12): the CLI's warnings, and the server's own log
// on a terminal (`pullthrough serve --log-format pretty`, the default when stdout is a TTY). Machines keep
// getting JSON: a pipe or a file gets pino's lines untouched.

const LEVEL_NAMES: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warning', 50: 'error', 60: 'fatal' };
/** Fields pino adds to every line that a person at a terminal does not need. */
const NOISE = new Set(['level', 'time', 'pid', 'hostname', 'msg']);

/** One pino JSON line as `PREFIX LEVEL: message (key=value, ...)`; a line that is not JSON passes as it is. */
export function humanLine(prefix: string, json: string, options: { time?: boolean } = {}): string {
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
  const time = options.time && typeof entry.time === 'number' ? `${new Date(entry.time).toISOString().slice(11, 23)} ` : '';
  return `${time}${prefix}${level}: ${String(entry.msg ?? '')}${details.length ? ` (${details.join(', ')})` : ''}\n`;
}

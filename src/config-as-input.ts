// The effective config written back in the form a config file takes — listen as host:port, durations
// as "5m", sizes as "4MiB", upstream names only as map keys — so `pullthrough config check` prints a file
// that loads again to the same config (issue 12).

import type { Config } from './config.ts';

/** Keys whose values are milliseconds in the parsed config. */
const DURATION_KEYS = new Set([
  'tagTtl', 'negativeTtl', 'evictionGrace', 'evictionInterval', 'maxAge', 'tokenTtl', 'failedLoginWindow', 'tagRecordTtl',
  'connect', 'idle', 'fillQueueTimeout', 'headersTimeout', 'requestTimeout', 'keepAliveTimeout', 'clientIdleTimeout',
  'ticketKeyRotation',
]);
/** Keys whose values are bytes in the parsed config. */
const SIZE_KEYS = new Set(['maxSize', 'maxManifestSize', 'maxBlobSize', 'minRate']);

export function configAsInput(config: Config): Record<string, unknown> {
  const { listen, upstreams, ...rest } = config;
  const host = listen.host.includes(':') ? `[${listen.host}]` : listen.host;
  return {
    listen: `${host}:${listen.port}`,
    ...(humanize(rest) as Record<string, unknown>),
    upstreams: Object.fromEntries(Object.values(upstreams).map(({ name, ...upstream }) => [name, humanize(upstream)])),
  };
}

function humanize(value: unknown, key = ''): unknown {
  if (typeof value === 'number' && DURATION_KEYS.has(key)) return formatDuration(value);
  if (typeof value === 'number' && SIZE_KEYS.has(key)) return formatSize(value);
  if (Array.isArray(value)) return value.map((item) => humanize(item));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined).map(([k, v]) => [k, humanize(v, k)]));
  }
  return value;
}

const DURATION_UNITS: Array<[string, number]> = [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000], ['ms', 1]];

/** 300000 → "5m", 90000 → "1m30s", 250 → "250ms": the units parseDuration reads. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let left = Math.round(ms);
  let text = '';
  for (const [unit, size] of DURATION_UNITS) {
    const count = Math.floor(left / size);
    if (count > 0) {
      text += `${count}${unit}`;
      left -= count * size;
    }
  }
  return text;
}

const SIZE_UNITS: Array<[string, number]> = [['TiB', 1024 ** 4], ['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]];

/** 4194304 → "4MiB"; a size that is not a whole number of a binary unit stays in bytes. */
export function formatSize(bytes: number): string {
  for (const [unit, size] of SIZE_UNITS) if (bytes % size === 0) return `${bytes / size}${unit}`;
  return String(bytes);
}

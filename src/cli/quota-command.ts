// `pullthrough quota`: each upstream's pull quota as a running mirror sees it (issue 15): the latest
// ratelimit-* figures any replica saw, the estimated reset, the reserve and what is held back now. Read
// from the mirror's /metrics, so it works whatever the metadata store is and shows what replicas share.

import { parseArgs } from 'node:util';
import { Agent, fetch } from 'undici';
import { EXIT, UsageError } from './exit-codes.ts';
import { describeFailure, resolveMirror } from './prefetch-command.ts';

export const QUOTA_HELP = `Usage: pullthrough quota [options]

Shows each upstream's pull quota as the running mirror (and its replicas) last saw it: pulls left of the
limit, the window, when it resets (estimated from w= and the window's first answer), the reserve
(upstreams.<name>.quota.reserve) and the state:
  open       every pull allowed
  reserve    at the reserve: changed tags keep serving their cached digest, prefetch pauses; only
             images nobody has yet are pulled
  exhausted  none left: only cached content is served, the rest is answered 429 until the reset
  limited    the upstream answered 429: nothing is asked of it until the reset
Upstreams that send no ratelimit-* headers are not listed.

Options:
  -m, --mirror URL   the mirror to ask (default: the config's listen address)
      --ca FILE      trust this CA for an https mirror
      --json         one JSON array instead of the table
  -c, --config FILE  configuration file (for the default mirror address)
  -h, --help         show this help

Exit status: 0 shown, 1 the mirror could not be asked, 2 usage or config error.`;

export interface QuotaRow {
  upstream: string;
  credential: string;
  remaining: number;
  limit: number;
  windowSeconds: number | undefined;
  /** Estimated reset, or the end of a 429's hold (ISO 8601). */
  resetsAt: string | undefined;
  reserve: number;
  state: string;
}

export async function quotaCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      mirror: { type: 'string', short: 'm' },
      ca: { type: 'string' },
      json: { type: 'boolean' },
      config: { type: 'string', short: 'c' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write(`${QUOTA_HELP}\n`);
    return EXIT.OK;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}" (see pullthrough quota --help)`);
  const { base, ca } = resolveMirror(values, 'quota');
  const agent = new Agent({ ...(ca && { connect: { ca } }) });
  let text: string;
  try {
    const response = await fetch(`${base}/metrics`, { dispatcher: agent });
    text = await response.text();
    if (response.status !== 200) throw new Error(`${base}/metrics answered HTTP ${response.status}`);
  } catch (error) {
    process.stderr.write(`pullthrough quota: ${describeFailure(base, error)}\n`);
    return EXIT.FAILURE;
  } finally {
    await agent.close();
  }
  const rows = quotaRows(text);
  if (values.json) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
  else process.stdout.write(`${formatQuotaTable(rows, Date.now())}\n`);
  return EXIT.OK;
}

/** The quota gauges of a /metrics text, one row per (upstream, credential). */
export function quotaRows(metrics: string): QuotaRow[] {
  const rows = new Map<string, QuotaRow>();
  for (const line of metrics.split('\n')) {
    const match = /^(pullthrough_upstream_(?:ratelimit_\w+|quota_\w+))\{(.*)\}\s+(\S+)$/.exec(line);
    if (!match) continue;
    const [, name, labelText, valueText] = match as unknown as [string, string, string, string];
    const labels: Record<string, string> = {};
    for (const pair of labelText.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1] as string] = (pair[2] as string).replace(/\\(.)/g, '$1');
    if (labels.upstream === undefined || labels.credential === undefined) continue;
    const key = `${labels.upstream}\n${labels.credential}`;
    const row = rows.get(key) ?? { upstream: labels.upstream, credential: labels.credential, remaining: 0, limit: 0, windowSeconds: undefined, resetsAt: undefined, reserve: 0, state: 'open' };
    rows.set(key, row);
    const value = Number(valueText);
    if (name === 'pullthrough_upstream_ratelimit_remaining') row.remaining = value;
    else if (name === 'pullthrough_upstream_ratelimit_limit') row.limit = value;
    else if (name === 'pullthrough_upstream_ratelimit_window_seconds') row.windowSeconds = value;
    else if (name === 'pullthrough_upstream_ratelimit_reset_timestamp_seconds') row.resetsAt = new Date(value * 1000).toISOString();
    else if (name === 'pullthrough_upstream_quota_reserve') row.reserve = value;
    else if (name === 'pullthrough_upstream_quota_state' && value === 1 && labels.state) row.state = labels.state;
  }
  return [...rows.values()].sort((a, b) => a.upstream.localeCompare(b.upstream) || a.credential.localeCompare(b.credential));
}

export function formatQuotaTable(rows: readonly QuotaRow[], now: number): string {
  if (rows.length === 0) return 'No upstream has reported a pull quota yet (Docker Hub sends it with each manifest request).';
  const table = [
    ['UPSTREAM', 'CREDENTIAL', 'LEFT', 'LIMIT', 'WINDOW', 'RESETS', 'RESERVE', 'STATE'],
    ...rows.map((row) => [
      row.upstream,
      row.credential,
      String(row.remaining),
      String(row.limit),
      row.windowSeconds === undefined ? '-' : span(row.windowSeconds * 1000),
      row.resetsAt === undefined ? '-' : Date.parse(row.resetsAt) <= now ? 'passed' : `in ~${span(Date.parse(row.resetsAt) - now)}`,
      String(row.reserve),
      row.state,
    ]),
  ];
  const widths = table[0]?.map((_, column) => Math.max(...table.map((cells) => (cells[column] ?? '').length))) ?? [];
  return table.map((cells) => cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ').trimEnd()).join('\n');
}

/** 45 s, 12m, 5h59m. */
function span(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes}m`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}

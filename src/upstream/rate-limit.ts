// Docker Hub reports its pull quota on every response: `ratelimit-limit: 100;w=21600` and
// `ratelimit-remaining: 76;w=21600` (requests per window of w seconds). Kept per upstream for operators.

export interface RateLimitView {
  limit: number;
  remaining: number;
  windowSeconds?: number;
  /** When the headers were seen (ms since epoch). */
  seenAt: number;
}

function parseQuota(value: string | undefined): { count: number; window?: number } | undefined {
  if (!value) return undefined;
  const match = /^\s*(\d+)\s*(?:;\s*w\s*=\s*(\d+))?/.exec(value);
  if (!match) return undefined;
  return match[2] === undefined ? { count: Number(match[1]) } : { count: Number(match[1]), window: Number(match[2]) };
}

export function readRateLimit(headers: Record<string, string | string[] | undefined>, now = Date.now()): RateLimitView | undefined {
  const limit = parseQuota(firstHeader(headers['ratelimit-limit']));
  const remaining = parseQuota(firstHeader(headers['ratelimit-remaining']));
  if (!limit || !remaining) return undefined;
  const view: RateLimitView = { limit: limit.count, remaining: remaining.count, seenAt: now };
  const window = limit.window ?? remaining.window;
  if (window !== undefined) view.windowSeconds = window;
  return view;
}

export function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

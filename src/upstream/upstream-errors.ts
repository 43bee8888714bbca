// Upstream statuses as the mirror's own errors. Docker Hub answers 401 (not 404) for a repository that
// does not exist, even to a valid anonymous token, so a 401 that survives the token flow is "unknown".

import { type ErrorCode, RegistryError } from '../errors.ts';
import { firstHeader } from './rate-limit.ts';
import type { UpstreamResponse } from './registry-client.ts';

export function upstreamError(response: Pick<UpstreamResponse, 'status' | 'headers'>, notFound: ErrorCode): RegistryError {
  const { status } = response;
  const upstreamStatus = status;
  if (status === 404 || status === 401) return new RegistryError(notFound, undefined, { upstreamStatus });
  if (status === 403) return new RegistryError('DENIED', undefined, { upstreamStatus });
  if (status === 429) {
    const retryAfter = firstHeader(response.headers['retry-after']);
    return new RegistryError('TOOMANYREQUESTS', 'upstream rate limit reached', {
      upstreamStatus,
      headers: { 'retry-after': retryAfter && /^\d+$/.test(retryAfter) ? retryAfter : '60' },
    });
  }
  return new RegistryError('UNAVAILABLE', 'upstream failed', { upstreamStatus, detail: { upstreamStatus } });
}

/** A definitive "does not exist" from upstream, as opposed to a failure that a cached answer may cover. */
export function isUpstreamNotFound(error: unknown): boolean {
  return error instanceof RegistryError && error.upstreamStatus === 404;
}

// What a registry request resolved to, kept on the request for the one log line per request.

import type { CacheOutcome } from '../cache/cache-outcome.ts';

export interface RegistryRequestContext {
  upstream?: string;
  repository?: string;
  reference?: string;
  cache?: CacheOutcome;
  /** Body bytes a front sends for this answer instead of the mirror (serve.offload): what it counts as served. */
  offloadedBytes?: number;
}

declare module 'fastify' {
  interface FastifyRequest {
    registry: RegistryRequestContext | undefined;
  }
}

// What a registry request resolved to, kept on the request for the one log line per request.

import type { CacheOutcome } from '../cache/cache-outcome.ts';

export interface RegistryRequestContext {
  upstream?: string;
  repository?: string;
  reference?: string;
  cache?: CacheOutcome;
}

declare module 'fastify' {
  interface FastifyRequest {
    registry: RegistryRequestContext | undefined;
  }
}

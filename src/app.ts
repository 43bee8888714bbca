// buildApp is the only way to make the mirror: the server entry and every test use it.

import fastify, { type FastifyInstance, type FastifyServerOptions, LogController } from 'fastify';
import replyFrom from '@fastify/reply-from';
import type Keyv from 'keyv';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { type Config, ConfigError } from './config.ts';
import { clientAuth } from './auth/client-auth.ts';
import { RegistryError } from './errors.ts';
import { mirrorServices } from './plugins/mirror-services.ts';
import type { BlobStore } from './storage/blob-store.ts';
import { ListingDispatcher } from './upstream/listing-dispatcher.ts';
import { requestMetrics } from './observability/request-metrics.ts';
import { deniedRequests } from './observability/denied-requests.ts';
import { warmSetPlugin } from './plugins/warm-set-plugin.ts';
import { healthRoutes } from './routes/health.ts';
import { internalFills } from './routes/internal-fills.ts';
import { metricsEndpoint } from './routes/metrics-endpoint.ts';
import { registryApi } from './routes/registry-api.ts';
import { setupPages } from './routes/setup-pages.ts';
import { statusPage } from './routes/status-page.ts';
import { inheritedTicketKeys } from './workers/worker-secrets.ts';
import { TicketKeyRatchet } from './tls-ticket-keys.ts';
import './routes/request-context.ts';

export interface AppDeps {
  /** Metadata store to use instead of the configured one. */
  keyv?: Keyv;
  /** Blob store to use instead of the configured one: e.g. a MemoryBlobStore in tests. */
  store?: BlobStore;
  /** Logger options or instance; defaults to pino at the configured level. */
  logger?: FastifyServerOptions['logger'] | FastifyServerOptions['loggerInstance'];
}

/** Header values never to log: client credentials to the mirror and anything upstream-auth shaped. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  '*.headers.authorization',
  'err.config.headers.authorization',
];

/** How often a closing server looks for connections that have finished their last response. */
const CLOSE_SWEEP_MS = 100;

export async function buildApp(config: Config, deps: AppDeps = {}): Promise<FastifyInstance> {
  const logger = deps.logger ?? { level: config.logLevel, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } };
  const tls = readTlsFiles(config);
  // With `tls` the server is HTTPS (clients need it for a mirror not on localhost); the instance's API is
  // the same either way, only its type parameter (the Node server class) differs.
  const limits = clientLimits(config);
  const app = fastify({
    // Node's own time-outs are constructor options (the checking interval can only be set there).
    ...(tls ? { https: { ...tls, ...limits.node } } : { http: limits.node }),
    connectionTimeout: limits.idle,
    keepAliveTimeout: config.limits.keepAliveTimeout,
    requestTimeout: limits.node.requestTimeout,
    ...(isLoggerInstance(logger) ? { loggerInstance: logger } : { logger }),
    // One line per request, written in onResponse with the cache outcome, instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    // Registry paths hold slashes and colons; keep the raw URL for our own parser.
    routerOptions: { ignoreDuplicateSlashes: false, maxParamLength: 1024 },
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // X-Forwarded-* are honoured only when configured: request.host/.protocol/.ip then follow them.
    trustProxy: config.trustProxy,
    // Request ids tie a request's log lines together. A client-sent X-Request-Id is taken only behind a
    // trusted proxy (which sets it for the whole chain); otherwise any client could forge or collide ids.
    requestIdHeader: false,
    genReqId: (request) => {
      const sent = config.trustProxy ? request.headers['x-request-id'] : undefined;
      return typeof sent === 'string' && REQUEST_ID.test(sent) ? sent : randomUUID();
    },
  }) as unknown as FastifyInstance;
  // Past this many open connections Node closes new ones as soon as it accepts them (issue 9).
  app.server.maxConnections = config.limits.maxConnections;
  if (config.tls) {
    // Session-ticket keys that step every tls.ticketKeyRotation: a key read from this process later does not
    // decrypt sessions resumed before. Workers of one host start from the key their primary handed them, so
    // a session resumes on whichever worker a reconnect reaches.
    const inherited = inheritedTicketKeys();
    const period = config.tls.ticketKeyRotation;
    const ticketKeys = inherited ? new TicketKeyRatchet(inherited, period) : TicketKeyRatchet.fresh(period);
    const stopRotating = ticketKeys.drive(app.server as unknown as { setTicketKeys(keys: Buffer): void });
    app.addHook('onClose', async () => stopRotating());
  }

  // Graceful close: Fastify closes the connections idle when close() starts, but a keep-alive connection
  // whose response was still in flight turns idle only later and would then hold close() open for the
  // whole keep-alive time (limits.keepAliveTimeout), perhaps past the shutdown grace. Close those as they
  // turn idle.
  app.addHook('preClose', (done) => {
    const sweep = setInterval(() => app.server.closeIdleConnections(), CLOSE_SWEEP_MS);
    sweep.unref();
    app.server.once('close', () => clearInterval(sweep));
    done();
  });

  // No answer is ever to be sniffed into something a browser would run (issue 9): manifests, listings and
  // errors carry the types we chose, and blobs are octet-streams.
  app.addHook('onRequest', async (_request, reply) => {
    reply.header('x-content-type-options', 'nosniff');
  });

  app.decorateRequest('registry', undefined);
  app.setErrorHandler((error, request, reply) => {
    const registryError = toRegistryError(error);
    if (registryError.status >= 500) request.log.error({ err: error }, 'request failed');
    reply.code(registryError.status).headers(registryError.headers).type('application/json').send(registryError.toBody());
  });
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).type('application/json').send(new RegistryError('NAME_UNKNOWN', 'no such endpoint').toBody());
  });
  app.addHook('onResponse', async (request, reply) => {
    request.log.info(
      {
        method: request.method,
        url: request.url,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
        ...(request.clientAccount !== undefined && { account: request.clientAccount }),
        ...request.registry,
      },
      'request',
    );
  });

  await app.register(mirrorServices, { config, ...(deps.keyv && { keyv: deps.keyv }), ...(deps.store && { store: deps.store }) });
  // Listings go through each upstream client's own pool: its CA, address policy and time-outs (issue 9).
  await app.register(replyFrom, { undici: new ListingDispatcher(app.mirror.clients.values()) });
  await app.register(requestMetrics);
  await app.register(deniedRequests);
  // The pinned warm set (config prefetch:, issue 13): warmed in the background once the app is ready.
  await app.register(warmSetPlugin);
  // Before every route: with `auth` configured, requests are authenticated before anything is served.
  await app.register(clientAuth, { config });
  await app.register(registryApi);
  await app.register(healthRoutes);
  await app.register(internalFills);
  await app.register(metricsEndpoint);
  await app.register(statusPage);
  await app.register(setupPages);
  return app;
}

/**
 * What an anonymous client may make the server hold (issue 9): slowloris heads trickled a byte at a time
 * lived 75-90 s, and a client that stopped reading held its socket for ever.
 * - headersTimeout: the request head must arrive within it, however steadily it trickles.
 * - requestTimeout: the whole request must arrive within it. Node measures it from the first byte of a
 *   request until the request is complete, not until the answer is sent, so a long blob download is not
 *   cut by it (test/integration/slow-steady-blob-download-outlives-request-timeout.test.ts).
 * - idle (Fastify's connectionTimeout, the socket's inactivity timer): no byte moved either way. Each
 *   write handed to the socket and each one completed re-arms it, so a client reading steadily keeps its
 *   download (it must take in one chunk, up to 1 MiB from the store, per idle time-out); one that stopped
 *   reading stalls our writes and is cut. It also bounds a client waiting for a fill slot or a slow
 *   upstream, so it should stay above fillQueueTimeout and upstreamTimeouts.idle (the defaults do).
 * Node checks the first two on an interval (30 s by default, which is why they ran so long): a tenth of
 * the headers time-out here, between 100 ms and 1 s.
 */
export function clientLimits(config: Config): {
  node: { headersTimeout: number; requestTimeout: number; connectionsCheckingInterval: number };
  idle: number;
} {
  const { headersTimeout, requestTimeout, clientIdleTimeout } = config.limits;
  // Node refuses a headers time-out above the request time-out; the request time-out then bounds both.
  const headers = Math.min(headersTimeout, requestTimeout);
  return {
    node: { headersTimeout: headers, requestTimeout, connectionsCheckingInterval: Math.min(1000, Math.max(100, Math.floor(headers / 10))) },
    idle: clientIdleTimeout,
  };
}

/** What a forwarded request id may look like: no spaces or control characters to smuggle into logs. */
const REQUEST_ID = /^[A-Za-z0-9._:+=/-]{1,128}$/;

/** The configured certificate and key, read now so an unreadable file stops the start with a clear message. */
export function readTlsFiles(config: Config): { cert: Buffer; key: Buffer } | undefined {
  if (!config.tls) return undefined;
  const problems: string[] = [];
  const read = (key: 'cert' | 'key'): Buffer => {
    const file = (config.tls as { cert: string; key: string })[key];
    try {
      const bytes = readFileSync(file);
      if (!bytes.includes('-----BEGIN ')) problems.push(`tls.${key}: ${file} is not a PEM file`);
      return bytes;
    } catch (error) {
      problems.push(`tls.${key}: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
      return Buffer.alloc(0);
    }
  };
  const material = { cert: read('cert'), key: read('key') };
  if (problems.length === 0) {
    try {
      createSecureContext(material);
    } catch (error) {
      problems.push(`tls: the certificate and key do not make a TLS context (${(error as Error).message})`);
    }
  }
  if (problems.length > 0) throw new ConfigError('tls', problems);
  return material;
}

function toRegistryError(error: unknown): RegistryError {
  if (error instanceof RegistryError) return error;
  const status = (error as { statusCode?: number }).statusCode;
  // Fastify's own 4xx (bad header, body too large, ...) keep their status under the spec's envelope.
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new RegistryError(status === 405 ? 'UNSUPPORTED' : 'NAME_INVALID', 'bad request');
  }
  return new RegistryError('UNKNOWN', 'internal error');
}

function isLoggerInstance(logger: AppDeps['logger']): logger is NonNullable<FastifyServerOptions['loggerInstance']> {
  return typeof logger === 'object' && logger !== null && typeof (logger as { info?: unknown }).info === 'function';
}

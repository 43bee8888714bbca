// The logger type services take: Fastify's view of pino, so `app.log` and `request.log` fit everywhere.
import type { FastifyBaseLogger } from 'fastify';

export type Logger = FastifyBaseLogger;

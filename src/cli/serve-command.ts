// `pullthrough serve`: what `npm start` runs. Builds the app, listens, and closes gracefully on
// SIGTERM/SIGINT (in-flight responses get a grace period). Resolves with the exit status once closed.

import cluster from 'node:cluster';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { type AppDeps, buildApp, readTlsFiles, REDACTED_PATHS } from '../app.ts';
import type { Logger } from '../logger.ts';
import { humanLine } from './log-lines.ts';
import { usesRedis } from '../metadata/redis-connection.ts';
import { configFile, loadCheckedConfig } from './cli-config.ts';
import { EXIT, UsageError } from './exit-codes.ts';
import { ensurePortFree } from '../workers/port-check.ts';
import { runPrimary } from '../workers/primary.ts';
import { forgetInheritedSecrets } from '../workers/worker-secrets.ts';
import { workerCount, workerIndex } from '../workers/worker-count.ts';

/** In-flight responses get this long to finish after SIGTERM before the process exits anyway. */
const SHUTDOWN_GRACE_MS = 25_000;

export const SERVE_HELP = `Usage: pullthrough serve [--config FILE]

Runs the mirror (the same as \`npm start\`): serves the registry API, the status page, /metrics and the
setup pages on the configured address, with HTTPS when tls is configured. Stops gracefully on SIGTERM
or SIGINT. With \`workers: N\` (or auto, one per core; $PULLTHROUGH_WORKERS) this process starts N
workers on the same port, restarts one that dies, and passes the signals on.

Options:
  -c, --config FILE   configuration file (default: $PULLTHROUGH_CONFIG, else config/default.yaml)
      --log-format F  json (one pino line per event, for machines) or pretty (readable lines);
                      default: pretty on a terminal, json otherwise ($PULLTHROUGH_LOG_FORMAT)
  -h, --help          show this help

Exit status: 0 stopped cleanly, 1 failure, 2 usage or config error (port taken, bad config).`;

export async function serveCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { config: { type: 'string', short: 'c' }, 'log-format': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(`${SERVE_HELP}\n`);
    return EXIT.OK;
  }
  const config = loadCheckedConfig(configFile(values.config));
  const format = values['log-format'] ?? process.env.PULLTHROUGH_LOG_FORMAT ?? (process.stdout.isTTY ? 'pretty' : 'json');
  if (format !== 'json' && format !== 'pretty') throw new UsageError(`--log-format: expected json or pretty, got "${format}"`);
  const count = workerCount(config.workers);
  // `workers: N` (issue 11): this process becomes the primary of N workers that each run the code below.
  if (count > 1 && cluster.isPrimary) {
    // Checked once here, so a bad setting is one message, not one per worker (or a restart loop).
    readTlsFiles(config);
    await ensurePortFree(config.listen);
    const log = format === 'pretty' ? prettyLogger(config.logLevel) : pino({ level: config.logLevel });
    log.info({ workers: count, listen: `${config.listen.host}:${config.listen.port}` }, 'starting workers');
    return runPrimary({ count, log, stopAfterMs: SHUTDOWN_GRACE_MS + 5_000, ticketKeyRotationMs: config.tls?.ticketKeyRotation });
  }
  const logger = serverLogger(config.logLevel, format);
  const app = await buildApp(config, logger ? { logger } : {});
  // The keys a primary handed this worker are in the app now: out of the environment, where diagnostic
  // reports and any child process would see them.
  if (cluster.isWorker) forgetInheritedSecrets();

  const closed = new Promise<number>((resolve) => {
    let closing = false;
    const shutdown = (signal: string): void => {
      if (closing) return;
      closing = true;
      app.log.info({ signal }, 'shutting down');
      const timer = setTimeout(() => {
        app.log.warn('shutdown grace period over, exiting');
        resolve(EXIT.FAILURE);
      }, SHUTDOWN_GRACE_MS);
      timer.unref();
      app.close().then(
        () => resolve(EXIT.OK),
        (error: unknown) => {
          app.log.error({ err: error }, 'error while closing');
          resolve(EXIT.FAILURE);
        },
      );
    };
    process.on('SIGTERM', () => shutdown('SIGTERM'));
    process.on('SIGINT', () => shutdown('SIGINT'));
  });

  await app.listen({ host: config.listen.host, port: config.listen.port });
  app.log.info(
    { storage: config.storage.path, metadata: usesRedis(config) ? 'redis' : 'embedded', upstreams: Object.keys(config.upstreams), tls: config.tls !== undefined },
    'pullthrough ready',
  );
  return closed;
}

/** The server's log as readable lines with the time, for a person watching a terminal; redaction as in JSON. */
function prettyLogger(level: string): Logger {
  return pino(
    { level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } },
    { write: (line: string) => process.stdout.write(humanLine('', line, { time: true })) },
  );
}

/** The server's logger (undefined: the app's default); a worker's lines also say which worker wrote them. */
function serverLogger(level: string, format: 'json' | 'pretty'): AppDeps['logger'] {
  const worker = workerIndex();
  if (format === 'pretty') return worker === undefined ? prettyLogger(level) : prettyLogger(level).child({ worker });
  return worker === undefined ? undefined : { level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' }, base: { pid: process.pid, hostname: hostname(), worker } };
}

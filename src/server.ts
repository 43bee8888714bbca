// Process entry: read the config, build the app, listen, close gracefully on SIGTERM/SIGINT.
// Everything else lives behind buildApp.

import { parseArgs } from 'node:util';
import { buildApp } from './app.ts';
import { ConfigError, DEFAULT_CONFIG_PATH, loadConfig } from './config.ts';
import { credentialProblems } from './upstream/credentials.ts';

/** In-flight responses get this long to finish after SIGTERM before the process exits anyway. */
const SHUTDOWN_GRACE_MS = 25_000;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { config: { type: 'string', short: 'c' } }, allowPositionals: false });
  const file = values.config || process.env.PULLTHROUGH_CONFIG || DEFAULT_CONFIG_PATH;
  let config;
  try {
    config = loadConfig(file);
    const problems = credentialProblems(config);
    if (problems.length > 0) throw new ConfigError(file, problems);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`pullthrough: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }

  const app = await buildApp(config);

  let closing = false;
  const shutdown = (signal: string): void => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      app.log.warn('shutdown grace period over, exiting');
      process.exit(1);
    }, SHUTDOWN_GRACE_MS);
    timer.unref();
    app.close().then(
      () => process.exit(0),
      (error: unknown) => {
        app.log.error({ err: error }, 'error while closing');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  await app.listen({ host: config.listen.host, port: config.listen.port });
  app.log.info(
    { storage: config.storage.path, metadata: config.metadata.redis ? 'redis' : 'embedded', upstreams: Object.keys(config.upstreams) },
    'pullthrough ready',
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`pullthrough: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});

// The `pullthrough` command: dispatches to one subcommand and turns its outcome into an exit status
// (exit-codes.ts). Plain node:util parseArgs per command; no framework.

import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '../config.ts';
import { CONFIG_HELP, configCommand } from './config-command.ts';
import { EXIT, EXIT_CODES_HELP, UsageError } from './exit-codes.ts';
import { GC_HELP, gcCommand } from './gc-command.ts';
import { LS_HELP, lsCommand } from './ls-command.ts';
import { PREFETCH_HELP, prefetchCommand } from './prefetch-command.ts';
import { QUOTA_HELP, quotaCommand } from './quota-command.ts';
import { SERVE_HELP, serveCommand } from './serve-command.ts';
import { VERIFY_HELP, verifyCommand } from './verify-command.ts';

const COMMANDS: Record<string, { run: (args: string[]) => Promise<number>; help: string }> = {
  serve: { run: serveCommand, help: SERVE_HELP },
  prefetch: { run: prefetchCommand, help: PREFETCH_HELP },
  quota: { run: quotaCommand, help: QUOTA_HELP },
  ls: { run: lsCommand, help: LS_HELP },
  gc: { run: gcCommand, help: GC_HELP },
  verify: { run: verifyCommand, help: VERIFY_HELP },
  config: { run: configCommand, help: CONFIG_HELP },
};

export const MAIN_HELP = `Usage: pullthrough <command> [options]

A pull-through mirror for container registries.

Commands:
  serve              run the mirror (what npm start does)
  prefetch IMAGE...  warm the cache by pulling images through a running mirror
  quota              each upstream's pull quota as the running mirror sees it
  ls [NAME...]       list the cached images: tags, digests, sizes, last use
  gc                 evict now (storage.maxSize / maxAge) and report what was freed
  verify             re-hash every kept blob; remove and report corrupt ones
  config check       validate the configuration and print it resolved, secrets masked

Every command takes --config FILE (default: $PULLTHROUGH_CONFIG, else config/default.yaml) and --help.
pullthrough help COMMAND shows a command's help; pullthrough --version the version.

${EXIT_CODES_HELP}`;

export async function runCli(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-V' || name === 'version') {
    process.stdout.write(`pullthrough ${packageVersion()}\n`);
    return EXIT.OK;
  }
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' && rest[0] ? COMMANDS[rest[0]] : undefined;
    process.stdout.write(`${topic ? topic.help : MAIN_HELP}\n`);
    return name === undefined ? EXIT.USAGE : EXIT.OK;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`pullthrough: unknown command "${name}"\n\n${MAIN_HELP}\n`);
    return EXIT.USAGE;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`pullthrough: ${error.message}\n`);
      return EXIT.USAGE;
    }
    // parseArgs' own errors (unknown option, missing value) are usage errors too.
    const code = (error as NodeJS.ErrnoException).code;
    if (error instanceof UsageError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'))) {
      process.stderr.write(`pullthrough ${name}: ${(error as Error).message}\n`);
      return EXIT.USAGE;
    }
    // Start-up failures the operator can fix (port taken, no permission, address not on this host): one
    // line saying what and what to do, not a stack trace.
    const hint = typeof code === 'string' ? SYSTEM_ERROR_HINTS[code] : undefined;
    if (hint) {
      process.stderr.write(`pullthrough ${name}: ${(error as Error).message} — ${hint}\n`);
      return EXIT.USAGE;
    }
    process.stderr.write(`pullthrough ${name}: ${(error as Error).stack ?? String(error)}\n`);
    return EXIT.FAILURE;
  }
}

const SYSTEM_ERROR_HINTS: Record<string, string> = {
  EADDRINUSE: 'another process listens there; stop it or set listen (PULLTHROUGH_LISTEN) to a free port',
  EACCES: 'no permission (ports below 1024 need root or CAP_NET_BIND_SERVICE; or a file is not readable)',
  EADDRNOTAVAIL: 'that address is not on this machine; use 0.0.0.0 or one of its addresses in listen',
  ENOENT: 'a file or directory named in the configuration does not exist',
};

function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof manifest.version === 'string' ? manifest.version : 'unknown';
}

/** Runs the command line and exits with its status. */
export function main(argv: string[] = process.argv.slice(2)): void {
  runCli(argv).then(
    (status) => process.exit(status),
    (error: unknown) => {
      process.stderr.write(`pullthrough: ${(error as Error).stack ?? String(error)}\n`);
      process.exit(EXIT.FAILURE);
    },
  );
}

// `node dist/cli/main.js gc` (e.g. `docker exec` into the image, which has no bin/ launcher) runs it too.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();

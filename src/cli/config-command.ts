// `pullthrough config check`: validates the config exactly as `serve` would (schema, environment
// overrides, readable upstream secrets and TLS files) and prints the effective config — defaults filled
// in, paths absolute — as a config file that loads again, with anything secret masked.

import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { configAsInput } from '../config-as-input.ts';
import { configFile, loadCheckedConfig } from './cli-config.ts';
import { EXIT, UsageError } from './exit-codes.ts';

export const CONFIG_HELP = `Usage: pullthrough config check [options]

Validates the configuration as the server would (including environment overrides, readable secrets
and TLS files) and prints the effective configuration, every default filled in, as a config file you
can start from (secrets masked).

Options:
      --json          print JSON instead of YAML
  -q, --quiet         print nothing, only set the exit status
  -c, --config FILE   configuration file
  -h, --help          show this help

Exit status: 0 valid, 2 invalid (every problem is listed).`;

const MASK = '********';
/** Keys whose values are secrets themselves (not the name of a variable or file holding one). */
const SECRET_KEY = /(password|secret|token|credential|apikey|api_key)$/i;

export async function configCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      json: { type: 'boolean' },
      quiet: { type: 'boolean', short: 'q' },
      config: { type: 'string', short: 'c' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write(`${CONFIG_HELP}\n`);
    return EXIT.OK;
  }
  if (positionals.length !== 1 || positionals[0] !== 'check') throw new UsageError('usage: pullthrough config check [--config FILE] (see --help)');
  const file = configFile(values.config);
  const config = loadCheckedConfig(file);
  if (values.quiet) return EXIT.OK;
  const shown = maskSecrets(configAsInput(config));
  process.stdout.write(values.json ? `${JSON.stringify(shown, null, 2)}\n` : `# ${file}: valid; the effective configuration:\n${stringify(shown)}`);
  return EXIT.OK;
}

/** A copy with secret values and URL passwords replaced by a mask. */
export function maskSecrets(value: unknown, key = ''): unknown {
  if (Array.isArray(value)) return value.map((item) => maskSecrets(item));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskSecrets(v, k)]));
  }
  if (typeof value !== 'string') return value;
  if (SECRET_KEY.test(key)) return MASK;
  // redis://user:password@host, https://user:token@registry
  return value.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/:@]*:)[^/@]*@/i, `$1${MASK}@`);
}

// The config as every command reads it: --config FILE, else PULLTHROUGH_CONFIG, else config/default.yaml;
// environment overrides applied; upstream secrets and TLS files checked, so a command that would fail on
// them later says so first (exit status 2).

import { readTlsFiles } from '../app.ts';
import { type Config, ConfigError, DEFAULT_CONFIG_PATH, loadConfig } from '../config.ts';
import { credentialProblems } from '../upstream/credentials.ts';

export function configFile(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return flag || env.PULLTHROUGH_CONFIG || DEFAULT_CONFIG_PATH;
}

/** Loads and checks the config; throws ConfigError naming every problem. */
export function loadCheckedConfig(file: string, options: { checkSecrets?: boolean } = {}): Config {
  const config = loadConfig(file);
  const problems = options.checkSecrets === false ? [] : credentialProblems(config);
  try {
    readTlsFiles(config);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(...error.problems);
  }
  if (problems.length > 0) throw new ConfigError(file, problems);
  return config;
}

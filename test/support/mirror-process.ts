// A mirror as its own process (`node --import tsx src/server.ts --config FILE`), for tests that kill it
// or run several replicas.

import { type ChildProcess, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ConfigInput } from '../../src/config.ts';

const SERVER = path.resolve('src/server.ts');

export interface MirrorProcess {
  url: string;
  child: ChildProcess;
  output(): string;
  /** SIGTERM, or SIGKILL for crash tests; resolves on exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export async function startMirrorProcess(configFile: string, config: ConfigInput): Promise<MirrorProcess> {
  await writeFile(configFile, JSON.stringify({ listen: '127.0.0.1:0', logLevel: 'warn', ...config }));
  const child = spawn(process.execPath, ['--import', 'tsx', SERVER, '--config', configFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PULLTHROUGH_LOG_LEVEL: 'info' },
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let url: string | undefined;
  for (let i = 0; i < 200 && !url; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    url = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1];
    if (child.exitCode !== null) break;
  }
  if (!url) {
    child.kill('SIGKILL');
    throw new Error(`mirror process did not start:\n${output}`);
  }
  return {
    url,
    child,
    output: () => output,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

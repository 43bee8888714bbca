import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { ConfigInput } from '../../../src/config.ts';
import { freePort } from './free-port.ts';
import { spawnTracked, type TrackedProcess } from './tracked-process.ts';
import { waitFor } from './wait-for.ts';

const SERVER = resolve('src/server.ts');

export interface MirrorProcess {
  readonly url: string;
  readonly proc: TrackedProcess;
}

/**
 * The mirror as its own process, the way it runs in production (`node --import tsx src/server.ts
 * --config FILE`), for what only a process can show: SIGKILL, SIGTERM. The config goes to
 * `<dir>/mirror.yaml`; its log to `<dir>/mirror.log`. Same port on every start, so clients can reconnect.
 */
export async function writeMirrorConfig(dir: string, config: Omit<ConfigInput, 'listen'>): Promise<{ file: string; port: number }> {
  const port = await freePort();
  const file = join(dir, 'mirror.yaml');
  // JSON is YAML.
  await writeFile(file, JSON.stringify({ listen: `127.0.0.1:${port}`, logLevel: 'warn', ...config }, null, 2));
  return { file, port };
}

export async function startMirrorProcess(dir: string, configFile: string, port: number): Promise<MirrorProcess> {
  const proc = await spawnTracked(process.execPath, ['--import', 'tsx', SERVER, '--config', configFile], { logFile: join(dir, 'mirror.log') });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    'the mirror process to listen',
    async () => {
      const response = await fetch(`${url}/healthz`);
      await response.arrayBuffer();
      return response.status === 200 ? true : undefined;
    },
    { timeoutMs: 20_000, intervalMs: 100, abortIf: () => (proc.isRunning() ? undefined : 'the mirror exited; see mirror.log') },
  );
  return { url, proc };
}

import { join } from 'node:path';
import { freePort } from './free-port.ts';
import { runCommand } from './run-command.ts';
import { makeTempDir, removeTempDir } from './temp-dir.ts';
import { spawnTracked, type TrackedProcess } from './tracked-process.ts';
import { waitFor } from './wait-for.ts';

export interface PrivateRedis {
  readonly url: string;
  readonly port: number;
  /** Stops this test's redis-server (by its PID); the port stays reserved for start(). */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty (no persistence). */
  start(): Promise<void>;
  /** Every key, via redis-cli. */
  keys(): Promise<string[]>;
  close(): Promise<void>;
}

/**
 * A redis-server of the test's own on a free loopback port, so a test can stop and restart Redis without
 * touching the shared one on 6379. No persistence: a restart comes back empty.
 */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const dir = await makeTempDir('redis');
  const port = await freePort();
  let proc: TrackedProcess | undefined;
  const start = async (): Promise<void> => {
    proc = await spawnTracked(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
      { logFile: join(dir, 'redis.log') },
    );
    const running = proc;
    await waitFor(
      'redis-server to answer',
      async () => ((await runCommand('redis-cli', ['-p', String(port), 'ping'], { timeoutMs: 2_000 })).stdout.trim() === 'PONG' ? true : undefined),
      { timeoutMs: 10_000, intervalMs: 50, abortIf: () => (running.isRunning() ? undefined : 'redis-server exited') },
    );
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    start,
    async stop() {
      await proc?.stop(5_000);
      proc = undefined;
    },
    async keys() {
      const res = await runCommand('redis-cli', ['-p', String(port), '--scan'], { timeoutMs: 5_000 });
      return res.stdout.split('\n').filter((line) => line !== '');
    },
    async close() {
      await proc?.stop(5_000);
      await removeTempDir(dir);
    },
  };
}

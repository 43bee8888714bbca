// Redis deployments besides a single server, started on loopback ports for one test: a 3-master Cluster,
// and a master watched by a Sentinel. Every process is this test's own and is stopped by PID.

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from './free-port.ts';
import { runChecked, runCommand } from './run-command.ts';
import { makeTempDir, removeTempDir } from './temp-dir.ts';
import { spawnTracked, type TrackedProcess } from './tracked-process.ts';
import { waitFor } from './wait-for.ts';

export interface RedisTopology {
  /** For `metadata.redisCluster` or `metadata.redisSentinel`. */
  readonly metadata: { redisCluster: string[] } | { redisSentinel: { name: string; sentinels: string[] } };
  close(): Promise<void>;
}

async function startServer(dir: string, port: number, extra: string[]): Promise<TrackedProcess> {
  const proc = await spawnTracked(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...extra],
    { logFile: join(dir, `redis-${port}.log`) },
  );
  await waitFor(
    `redis-server on ${port}`,
    async () => ((await runCommand('redis-cli', ['-p', String(port), 'ping'], { timeoutMs: 2_000 })).stdout.trim() === 'PONG' ? true : undefined),
    { timeoutMs: 10_000, intervalMs: 50, abortIf: () => (proc.isRunning() ? undefined : 'redis-server exited') },
  );
  return proc;
}

export async function startRedisCluster(): Promise<RedisTopology> {
  const dir = await makeTempDir('redis-cluster');
  const ports = [await freePort(), await freePort(), await freePort()];
  const procs = await Promise.all(
    ports.map((port) => startServer(dir, port, ['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`)])),
  );
  await runChecked('redis-cli', ['--cluster', 'create', ...ports.map((port) => `127.0.0.1:${port}`), '--cluster-replicas', '0', '--cluster-yes']);
  await waitFor(
    'the cluster to be ok',
    async () => ((await runCommand('redis-cli', ['-p', String(ports[0]), 'cluster', 'info'])).stdout.includes('cluster_state:ok') ? true : undefined),
    { timeoutMs: 15_000, intervalMs: 100 },
  );
  return {
    metadata: { redisCluster: ports.map((port) => `redis://127.0.0.1:${port}`) },
    async close() {
      await Promise.all(procs.map((proc) => proc.stop(2_000)));
      await removeTempDir(dir);
    },
  };
}

export async function startRedisWithSentinel(): Promise<RedisTopology> {
  const dir = await makeTempDir('redis-sentinel');
  const [masterPort, sentinelPort] = [await freePort(), await freePort()];
  const master = await startServer(dir, masterPort, []);
  const config = join(dir, 'sentinel.conf');
  await writeFile(config, `port ${sentinelPort}\nbind 127.0.0.1\nsentinel monitor mirror 127.0.0.1 ${masterPort} 1\n`);
  const sentinel = await spawnTracked('redis-server', [config, '--sentinel'], { logFile: join(dir, 'sentinel.log') });
  await waitFor(
    'the sentinel to know the master',
    async () =>
      (await runCommand('redis-cli', ['-p', String(sentinelPort), 'sentinel', 'get-master-addr-by-name', 'mirror'])).stdout.includes(String(masterPort))
        ? true
        : undefined,
    { timeoutMs: 10_000, intervalMs: 100, abortIf: () => (sentinel.isRunning() ? undefined : 'the sentinel exited') },
  );
  return {
    metadata: { redisSentinel: { name: 'mirror', sentinels: [`127.0.0.1:${sentinelPort}`] } },
    async close() {
      await sentinel.stop(2_000);
      await master.stop(2_000);
      await removeTempDir(dir);
    },
  };
}

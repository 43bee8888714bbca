// How many processes serve the port (config `workers`, issue 11), and which one this is: a number, or `auto` = one per core this
// process may use: os.availableParallelism (CPU affinity, unlike os.cpus().length), capped by a cgroup v2
// CPU quota — a container started with --cpus=2 on a 64-core host gets 2 workers, not 64 processes that
// each hold a heap and fight over two cores' worth of time.

import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { Config } from '../config.ts';

const CGROUP_CPU_MAX = '/sys/fs/cgroup/cpu.max';

export function workerCount(workers: Config['workers']): number {
  return workers === 'auto' ? autoWorkers(os.availableParallelism(), readCpuMax()) : workers;
}

/** One per usable core, at most the quota's whole cores rounded up (`cpu.max` is "<quota> <period>" or "max <period>"). */
export function autoWorkers(cores: number, cpuMax: string | undefined): number {
  const [quota, period] = (cpuMax ?? '').trim().split(/\s+/).map(Number);
  if (quota === undefined || period === undefined || !Number.isFinite(quota) || !(quota > 0) || !(period > 0)) return cores;
  return Math.max(1, Math.min(cores, Math.ceil(quota / period)));
}

function readCpuMax(): string | undefined {
  try {
    return readFileSync(CGROUP_CPU_MAX, 'utf8');
  } catch {
    return undefined;
  }
}

/** Several processes share this config's store and metadata: every process-local guarantee must be shared. */
export function runsAsWorkers(config: Pick<Config, 'workers'>): boolean {
  return workerCount(config.workers) > 1;
}

/** Where the primary tells a worker which one it is (its index, kept across restarts). */
export const WORKER_INDEX_ENV = 'PULLTHROUGH_WORKER_INDEX';

/** This process's index among the workers; undefined when it is not a worker of `workers: N`. */
export function workerIndex(): number | undefined {
  const index = process.env[WORKER_INDEX_ENV];
  return cluster.isWorker && index !== undefined ? Number(index) : undefined;
}

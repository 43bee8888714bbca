// How many processes serve the port (config `workers`, issue 11): a number, or `auto` = one per core
// this process may use (os.availableParallelism: honours CPU affinity, unlike os.cpus().length).

import os from 'node:os';
import type { Config } from '../config.ts';

export function workerCount(workers: Config['workers']): number {
  return workers === 'auto' ? os.availableParallelism() : workers;
}

/** Several processes share this config's store and metadata: every process-local guarantee must be shared. */
export function runsAsWorkers(config: Pick<Config, 'workers'>): boolean {
  return workerCount(config.workers) > 1;
}

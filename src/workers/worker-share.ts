// A per-host limit kept by each worker on its own (issue 11): failed logins per address, upstream fills in
// total and per address. Connections are dealt to the workers in turn, so each worker keeping its share
// holds the host near the configured number instead of N times it. Rounded up: never below 1, and
// one worker (the default) keeps the whole limit.

import type { Config } from '../config.ts';
import { workerCount } from './worker-count.ts';

export function workerShare(limit: number, workers: Config['workers']): number {
  return Math.ceil(limit / workerCount(workers));
}

// A per-host limit kept by each worker on its own (issue 11): failed logins per address, upstream fills in
// total and per address. Connections are dealt to the workers in turn, so each worker keeping its share
// holds the host at or under the configured number instead of N times it. Rounded down, so the shares
// never add up to more than the limit — except that a worker keeps at least 1, so with more workers than
// the limit the host allows N (README says so). One worker (the default) keeps the whole limit.

import type { Config } from '../config.ts';
import { workerCount } from './worker-count.ts';

export function workerShare(limit: number, workers: Config['workers']): number {
  return Math.max(1, Math.floor(limit / workerCount(workers)));
}

// The primary of `workers: N` (issue 11): N worker processes (node:cluster) serve one port; this process
// serves nothing itself. It forks them, restarts one that dies (with a growing pause, logging why), passes
// SIGTERM/SIGINT on so each drains its responses as a single process does (serve-command.ts), and gives up
// with a failing status when workers cannot start, instead of forking them again and again.
//
// Connections are handed out by the primary to a free worker in turn (SCHED_RR, Node's default on Linux)
// rather than taken by whichever worker the kernel wakes (SCHED_NONE, which tends to favour the worker
// already running). Measured with wrk -t1 -c16 -d5s on the shared 2-core machine: in the quietest run,
// warm 1 MiB blob 921 req/s with RR vs 549 with NONE (497 with one process), warm tag manifest 3347 vs
// 1174 (3303); later runs, with other jobs loading the machine (load average 6-13), ranged either way.
// NODE_CLUSTER_SCHED_POLICY=none|rr still chooses, for measuring. RR's one cost: a connection handed to a
// worker at the instant it is killed is lost with it (the primary never hears back), so that client
// waits for its own time-out; a worker that stops normally hands back what it has not accepted.

import cluster, { type Worker } from 'node:cluster';
import type { Logger } from '../logger.ts';
import { aggregateWorkerMetrics } from './cluster-metrics.ts';
import { TicketKeyRatchet } from '../tls-ticket-keys.ts';
import { secretsForWorkers, ticketKeysForWorker } from './worker-secrets.ts';
import { WORKER_INDEX_ENV } from './worker-count.ts';

export interface PrimaryOptions {
  count: number;
  log: Logger;
  /** After SIGTERM, workers still running this much later are killed (their own grace runs first). */
  stopAfterMs: number;
  /** With tls: how often the workers' shared TLS ticket key steps (tls.ticketKeyRotation). */
  ticketKeyRotationMs?: number;
}

/** The first pause before a restart; doubled for each worker that dies soon after its start. */
const RESTART_MIN_MS = 250;
const RESTART_MAX_MS = 30_000;
/** A worker that served this long before dying was healthy: the next restart starts at the minimum pause. */
const HEALTHY_AFTER_MS = 30_000;
/** Restarted workers that die before listening this many times in a row: the primary gives up. */
const MAX_FAILED_STARTS = 5;

/** Exit status of a worker that could not start for a reason the operator must fix (EXIT.USAGE). */
const USAGE = 2;

interface Slot {
  index: number;
  worker: Worker | undefined;
  listening: boolean;
  startedAt: number;
  /** Restarts in a row that died soon after starting. */
  failures: number;
  restart: NodeJS.Timeout | undefined;
}

/** Runs the workers until they are stopped; resolves with the process's exit status. */
export function runPrimary(options: PrimaryOptions): Promise<number> {
  const { count, log } = options;
  if (process.env.NODE_CLUSTER_SCHED_POLICY === undefined) cluster.schedulingPolicy = cluster.SCHED_RR;
  const slots: Slot[] = Array.from({ length: count }, (_, index) => ({ index, worker: undefined, listening: false, startedAt: 0, failures: 0, restart: undefined }));
  let everyoneListened = false;
  let stopping = false;
  /** The signal passed on to the workers: a worker that dies of it (before it could handle it) stopped as asked. */
  let forwarded: NodeJS.Signals | undefined;
  let status = 0;
  // One set for every worker and every restart: a client-auth token is good on whichever worker a client
  // reaches.
  const env = secretsForWorkers();
  // The primary serves no TLS: it steps the ticket key along with the workers, to hand a worker forked
  // later the key the others use by then, and so that it holds no replaced key either.
  const ticketKeys = options.ticketKeyRotationMs === undefined ? undefined : TicketKeyRatchet.fresh(options.ticketKeyRotationMs);
  const stopTicketSteps = ticketKeys?.stepOnSchedule();

  return new Promise<number>((resolve) => {
    const finishIfDone = (): void => {
      if (!stopping || slots.some((slot) => slot.worker !== undefined)) return;
      stopTicketSteps?.();
      resolve(status);
    };

    const stop = (signal: NodeJS.Signals, why: number): void => {
      if (stopping) return;
      stopping = true;
      forwarded = signal;
      status = why;
      for (const slot of slots) clearTimeout(slot.restart);
      for (const slot of slots) slot.worker?.process.kill(signal);
      const timer = setTimeout(() => {
        for (const slot of slots) {
          if (!slot.worker) continue;
          log.warn({ worker: slot.index, workerPid: slot.worker.process.pid }, 'worker still running after the grace period, killing it');
          slot.worker.process.kill('SIGKILL');
        }
      }, options.stopAfterMs);
      timer.unref();
      finishIfDone();
    };

    const fork = (slot: Slot): void => {
      slot.restart = undefined;
      slot.listening = false;
      slot.startedAt = Date.now();
      const worker = cluster.fork({ ...env, ...(ticketKeys && ticketKeysForWorker(ticketKeys)), [WORKER_INDEX_ENV]: String(slot.index) });
      slot.worker = worker;
      worker.on('listening', () => {
        slot.listening = true;
        if (!everyoneListened && slots.every((each) => each.listening)) {
          everyoneListened = true;
          log.info({ workers: count, workerPids: slots.map((each) => each.worker?.process.pid) }, 'workers ready');
        }
      });
      worker.on('exit', (code, signal) => {
        slot.worker = undefined;
        const ranMs = Date.now() - slot.startedAt;
        if (stopping) {
          const stoppedAsAsked = code === 0 || (code === null && signal === forwarded);
          if (!stoppedAsAsked) status = status || 1;
          finishIfDone();
          return;
        }
        if (!slot.listening && !everyoneListened) {
          // It never started, at the very start: the same would happen again (port taken, bad TLS files,
          // unreachable bucket...). The worker has said why on stderr; stop the others, say it once here.
          log.error({ worker: slot.index, code, signal }, 'a worker could not start; stopping');
          stop('SIGTERM', code === USAGE ? USAGE : 1);
          return;
        }
        slot.failures = !slot.listening || ranMs < HEALTHY_AFTER_MS ? slot.failures + 1 : 0;
        if (!slot.listening && slot.failures >= MAX_FAILED_STARTS) {
          log.error({ worker: slot.index, code, signal, attempts: slot.failures }, 'a worker keeps failing to start; stopping');
          stop('SIGTERM', 1);
          return;
        }
        const pauseMs = Math.min(RESTART_MAX_MS, RESTART_MIN_MS * 2 ** Math.max(0, slot.failures - 1));
        log.warn({ worker: slot.index, workerPid: worker.process.pid, code, signal, ranMs, restartInMs: pauseMs }, 'worker died, restarting it');
        slot.restart = setTimeout(() => fork(slot), pauseMs);
      });
    };

    aggregateWorkerMetrics();
    process.on('SIGTERM', () => stop('SIGTERM', 0));
    process.on('SIGINT', () => stop('SIGINT', 0));
    for (const slot of slots) fork(slot);
  });
}

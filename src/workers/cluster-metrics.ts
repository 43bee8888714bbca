// /metrics of `workers: N` (issue 11): each worker has its own prom-client registry, and a scrape reaches
// whichever worker the primary hands the connection to — alone, its counters would jump between workers'
// values and look like resets. So the worker that is asked asks the primary, which collects every live
// worker's metrics over the cluster's IPC channel and merges them with prom-client's AggregatorRegistry.
// Every worker's series carry a `worker` label (its index, stable across restarts), so nothing is summed
// that should not be: per-worker counters are summed in PromQL (`sum without (worker)`), and figures every
// worker reads from the shared store (cache size, quota) are the same in each.

import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue, type Registry } from 'prom-client';

type MetricsJson = Array<MetricObjectWithValues<MetricValue<string>>>;

const ASK = 'pullthrough:metrics-ask';
const COLLECT = 'pullthrough:metrics-collect';
const COLLECTED = 'pullthrough:metrics-collected';
const ANSWER = 'pullthrough:metrics-answer';
/** A worker that does not answer in time (busy, or dying) is left out of this scrape. */
const COLLECT_WAIT_MS = 2_000;

interface MetricsMessage {
  type: string;
  id: number;
  metrics?: MetricsJson;
  text?: string;
}

function isMetricsMessage(message: unknown): message is MetricsMessage {
  return typeof message === 'object' && message !== null && typeof (message as MetricsMessage).type === 'string' && (message as MetricsMessage).type.startsWith('pullthrough:metrics-');
}

/** Replies to `id` from `from`, or undefined after `waitMs`; the listener is removed either way. */
function reply<T>(listen: (handler: (message: unknown) => void) => () => void, type: string, id: number, pick: (message: MetricsMessage) => T, waitMs: number): Promise<T | undefined> {
  return new Promise((resolve) => {
    const stop = listen((message) => {
      if (!isMetricsMessage(message) || message.type !== type || message.id !== id) return;
      clearTimeout(timer);
      stop();
      resolve(pick(message));
    });
    const timer = setTimeout(() => {
      stop();
      resolve(undefined);
    }, waitMs);
  });
}

let nextId = 0;

/**
 * In a worker: labels this worker's series, answers the primary's collections, and returns the render
 * for /metrics — every worker's metrics, or this worker's alone if the primary does not answer.
 */
export function workerMetrics(registry: Registry, index: string): () => Promise<string> {
  registry.setDefaultLabels({ worker: index });
  process.on('message', (message: unknown) => {
    if (!isMetricsMessage(message) || message.type !== COLLECT) return;
    void registry.getMetricsAsJSON().then((metrics) => process.send?.({ type: COLLECTED, id: message.id, metrics }));
  });
  const fromProcess = (handler: (message: unknown) => void): (() => void) => {
    process.on('message', handler);
    return () => process.off('message', handler);
  };
  return async () => {
    const id = ++nextId;
    const answer = reply(fromProcess, ANSWER, id, (message) => message.text, COLLECT_WAIT_MS * 2);
    process.send?.({ type: ASK, id });
    return (await answer) ?? registry.metrics();
  };
}

/** In the primary: answers a worker's ASK with every live worker's metrics, merged. */
export function aggregateWorkerMetrics(): void {
  cluster.on('message', (asker: Worker, message: unknown) => {
    if (!isMetricsMessage(message) || message.type !== ASK) return;
    const workers = Object.values(cluster.workers ?? {}).filter((worker): worker is Worker => worker !== undefined && worker.isConnected());
    void Promise.all(
      workers.map((worker) => {
        const id = ++nextId;
        const fromWorker = (handler: (message: unknown) => void): (() => void) => {
          worker.on('message', handler);
          return () => worker.off('message', handler);
        };
        const collected = reply(fromWorker, COLLECTED, id, (answer) => answer.metrics, COLLECT_WAIT_MS);
        worker.send({ type: COLLECT, id });
        return collected;
      }),
    ).then(async (all) => {
      const text = await AggregatorRegistry.aggregate(all.filter((metrics): metrics is MetricsJson => metrics !== undefined)).metrics();
      if (asker.isConnected()) asker.send({ type: ANSWER, id: message.id, text });
    });
  });
}

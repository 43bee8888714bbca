import { readFile } from 'node:fs/promises';
import { type ClientRequest, get } from 'node:http';
import { join } from 'node:path';
import type { ConfigInput } from '../../../src/config.ts';
import { type MirrorProcess, startMirrorProcess, writeMirrorConfig } from './mirror-process.ts';
import { waitFor } from './wait-for.ts';

// For tests of `workers: N` (issue 11) run with startMirrorProcess at logLevel info: which worker
// answered what is read from the workers' log lines (their pid), never from anything clients see.

export interface WorkerLogLine {
  pid: number;
  worker?: number;
  msg: string;
  url?: string;
  status?: number;
}

/** The JSON lines of `<dir>/mirror.log` (primary and workers). */
export async function workerLogLines(dir: string): Promise<WorkerLogLine[]> {
  const text = await readFile(join(dir, 'mirror.log'), 'utf8');
  // Only whole lines: the log is being written while it is read, and its last line may be half there.
  return text
    .split('\n')
    .slice(0, -1)
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as WorkerLogLine);
}

/** Worker index → pid of its latest start. */
export async function readyWorkers(dir: string): Promise<Map<number, number>> {
  const ready = new Map<number, number>();
  for (const line of await workerLogLines(dir)) if (line.msg === 'pullthrough ready' && line.worker !== undefined) ready.set(line.worker, line.pid);
  return ready;
}

/** Waits until `count` workers have said they are ready. */
export async function waitForWorkers(dir: string, count: number): Promise<void> {
  await waitFor(`${count} workers to be ready`, async () => ((await readyWorkers(dir)).size === count ? true : undefined), { timeoutMs: 20_000, intervalMs: 100 });
}

/** The mirror with `workers: count` in `dir`, logging at info (the lines these helpers read), all workers ready. */
export async function startMirrorWorkers(dir: string, count: number, config: Omit<ConfigInput, 'listen'>): Promise<{ mirror: MirrorProcess; port: number }> {
  const { file, port } = await writeMirrorConfig(dir, { logLevel: 'info', workers: count, ...config });
  const mirror = await startMirrorProcess(dir, file, port);
  await waitForWorkers(dir, count);
  return { mirror, port };
}

/** Pids of the workers that logged an answer to `url`. */
export async function answeredBy(dir: string, url: string, requests?: number): Promise<Set<number>> {
  const lines = async (): Promise<WorkerLogLine[]> => (await workerLogLines(dir)).filter((line) => line.msg === 'request' && line.url === url);
  // The workers' lines reach the file through this process (a pipe, then a write stream), a moment after the
  // answers they log: with `requests` (the requests made for `url`), wait until every one of them is there.
  if (requests !== undefined) {
    await waitFor(`${requests} request lines for ${url} in the log`, async () => ((await lines()).length >= requests ? true : undefined), { timeoutMs: 10_000, intervalMs: 25 });
  }
  return new Set((await lines()).map((line) => line.pid));
}

/** One GET on a connection of its own (no keep-alive), as dockerd makes them: the primary places each anew. */
export function getOnNewConnection(port: number, pathAndQuery: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: pathAndQuery, agent: false, headers, timeout: 15_000 }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks) }));
      response.on('error', reject);
    })
      .on('timeout', function (this: ClientRequest) {
        this.destroy(new Error(`no answer to ${pathAndQuery} in time`));
      })
      .on('error', reject);
  });
}

import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';

/**
 * Every PID this harness started and has not yet seen exit. On test-process exit they are killed by PID,
 * so a failed or aborted test never leaves a registry or a daemon running (and never touches anyone else's).
 */
const livePids = new Set<number>();

export function trackPid(pid: number): void {
  livePids.add(pid);
}

export function untrackPid(pid: number): void {
  livePids.delete(pid);
}

process.once('exit', () => {
  for (const pid of livePids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
});

export interface TrackedProcess {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Resolves with the exit code (or signal name) when the process ends. */
  readonly exited: Promise<number | string>;
  isRunning(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
  stop(graceMs?: number): Promise<void>;
}

export interface SpawnTrackedOptions {
  env?: NodeJS.ProcessEnv;
  /** stdout and stderr go here (appended), so a daemon's log can be read when a test fails. */
  logFile: string;
}

/** Starts a long-running process (registry, daemon) whose output goes to a log file. */
export function spawnTracked(command: string, args: readonly string[], opts: SpawnTrackedOptions): Promise<TrackedProcess> {
  return new Promise((resolve, reject) => {
    const log = createWriteStream(opts.logFile, { flags: 'a' });
    const child = spawn(command, args, { env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    let running = true;
    const exited = new Promise<number | string>((res) => {
      child.on('exit', (code, signal) => {
        running = false;
        if (child.pid !== undefined) untrackPid(child.pid);
        res(code ?? signal ?? 'unknown');
      });
    });
    // End the log only after both pipes drained; otherwise the last lines (often the interesting ones) are lost.
    child.on('close', () => log.end());
    child.once('error', (e) => reject(e));
    child.once('spawn', () => {
      const pid = child.pid;
      if (pid === undefined) {
        reject(new Error(`${command}: no pid`));
        return;
      }
      trackPid(pid);
      resolve({
        pid,
        child,
        exited,
        isRunning: () => running,
        async stop(graceMs = 10_000) {
          if (!running) return;
          child.kill('SIGTERM');
          const timer = setTimeout(() => {
            if (running) child.kill('SIGKILL');
          }, graceMs);
          await exited;
          clearTimeout(timer);
        },
      });
    });
  });
}

import { spawn } from 'node:child_process';
import { trackPid, untrackPid } from './tracked-process.ts';

export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  input?: string | Buffer;
  cwd?: string;
}

/**
 * Runs a short-lived command to completion and captures its output. A time limit kills it (by its own
 * PID only), so a hung client never hangs a test run.
 */
export function runCommand(command: string, args: readonly string[], opts: RunOptions = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (c: Buffer) => out.push(c));
    child.stderr?.on('data', (c: Buffer) => err.push(c));
    if (child.pid !== undefined) trackPid(child.pid);
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 120_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (child.pid !== undefined) untrackPid(child.pid);
      resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Like runCommand, but a non-zero exit is an error that carries the command's output. */
export async function runChecked(command: string, args: readonly string[], opts: RunOptions = {}): Promise<CommandResult> {
  const res = await runCommand(command, args, opts);
  if (res.code !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} exited ${res.code ?? res.signal}\nstdout: ${res.stdout}\nstderr: ${res.stderr}`,
    );
  }
  return res;
}

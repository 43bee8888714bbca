// Drives test/support/embedded-metadata-child.ts: a real second process with the embedded metadata open.

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./embedded-metadata-child.ts', import.meta.url));

export class EmbeddedMetadataProcess {
  /** Everything the child wrote to stderr (its log lines). */
  stderr = '';
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly lines: AsyncIterator<string>;

  private constructor(child: ChildProcessWithoutNullStreams) {
    this.child = child;
    this.lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
  }

  /**
   * Spawns the child on `storage` and waits until its database is open, or with `openOnCommand` until it
   * is ready to open it (then call open()).
   */
  static async start(storage: string, { openOnCommand = false } = {}): Promise<EmbeddedMetadataProcess> {
    const args = ['--import', 'tsx', CHILD, storage, ...(openOnCommand ? ['--open-on-command'] : [])];
    const process_ = new EmbeddedMetadataProcess(spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] }));
    await process_.expect(openOnCommand ? 'waiting' : 'ready');
    return process_;
  }

  /** Opens the database of a child started with `openOnCommand`. */
  async open(): Promise<void> {
    this.send({ op: 'open' });
    await this.expect('ready');
  }

  private async expect(field: string): Promise<void> {
    const line = await this.next();
    if (!(field in line)) throw new Error(`child said ${JSON.stringify(line)}, not ${field}: ${this.stderr}`);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** The next JSON line the child wrote. */
  async next(): Promise<Record<string, unknown>> {
    const { value, done } = await this.lines.next();
    if (done === true) throw new Error(`child exited (${this.child.exitCode ?? this.child.signalCode}): ${this.stderr}`);
    return JSON.parse(value) as Record<string, unknown>;
  }

  /** The lines the child wrote that were not read yet, up to its end (once it has exited or been killed). */
  async rest(): Promise<Array<Record<string, unknown>>> {
    const lines: Array<Record<string, unknown>> = [];
    for (let next = await this.lines.next(); next.done !== true; next = await this.lines.next()) lines.push(JSON.parse(next.value) as Record<string, unknown>);
    return lines;
  }

  async request(command: Record<string, unknown>): Promise<Record<string, unknown>> {
    this.child.stdin.write(`${JSON.stringify(command)}\n`);
    return this.next();
  }

  send(command: Record<string, unknown>): void {
    this.child.stdin.write(`${JSON.stringify(command)}\n`);
  }

  async kill(signal: NodeJS.Signals): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'close');
    this.child.kill(signal);
    await exited;
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'close');
    await this.request({ op: 'close' });
    await exited;
  }
}

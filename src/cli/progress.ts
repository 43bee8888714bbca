// Progress of a prefetch: on a terminal, one line redrawn in place with a bar for bytes and a count of
// layers; otherwise (CI logs, pipes) one plain line per finished blob, nothing redrawn.

import { formatBytes } from '../observability/byte-size.ts';

const BAR_WIDTH = 24;
const REDRAW_MS = 100;

export class Progress {
  private readonly out: NodeJS.WriteStream;
  private readonly tty: boolean;
  private label = '';
  private totalBytes = 0;
  private doneBytes = 0;
  private totalBlobs = 0;
  private doneBlobs = 0;
  private lastDraw = 0;

  constructor(out: NodeJS.WriteStream = process.stderr, tty = Boolean(out.isTTY)) {
    this.out = out;
    this.tty = tty;
  }

  begin(label: string, totalBlobs: number, totalBytes: number): void {
    this.label = label;
    this.totalBlobs = totalBlobs;
    this.totalBytes = totalBytes;
    this.doneBlobs = 0;
    this.doneBytes = 0;
    if (!this.tty) this.out.write(`${label}: ${totalBlobs} blobs, ${formatBytes(totalBytes)}\n`);
    this.draw(true);
  }

  bytes(n: number): void {
    this.doneBytes += n;
    this.draw(false);
  }

  blobDone(digest: string, size: number): void {
    this.doneBlobs += 1;
    if (!this.tty) this.out.write(`${this.label}: ${digest.slice(0, 19)} ${formatBytes(size)} (${this.doneBlobs}/${this.totalBlobs})\n`);
    this.draw(true);
  }

  /** A line of its own that does not end the image's progress (a pause for the pull quota, issue 15). */
  note(message: string): void {
    this.out.write(this.tty ? `\r\x1b[2K${message}\n` : `${message}\n`);
    this.draw(true);
  }

  /** Ends the image's progress: clears the redrawn line, and writes a final message if there is one. */
  end(message?: string): void {
    if (this.tty) this.out.write(`\r\x1b[2K${message === undefined ? '' : `${message}\n`}`);
    else if (message !== undefined) this.out.write(`${message}\n`);
  }

  private draw(force: boolean): void {
    if (!this.tty) return;
    const now = Date.now();
    if (!force && now - this.lastDraw < REDRAW_MS) return;
    this.lastDraw = now;
    const fraction = this.totalBytes > 0 ? Math.min(1, this.doneBytes / this.totalBytes) : 1;
    const filled = Math.round(fraction * BAR_WIDTH);
    const bar = `${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}`;
    this.out.write(
      `\r\x1b[2K${this.label} [${bar}] ${Math.floor(fraction * 100)}% ${formatBytes(this.doneBytes)}/${formatBytes(this.totalBytes)} · blobs ${this.doneBlobs}/${this.totalBlobs}`,
    );
  }
}

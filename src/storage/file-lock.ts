// A lock file with a lease, for processes that share a directory but no Redis (a `pullthrough gc` beside
// the server, workers on one host, or replicas on one volume while Redis is unreachable): exclusive
// create, renewed by touching it, taken over once it is older than the lease. A holder that dies therefore
// never blocks the others for longer than one lease. The filesystem store hands these out (BlobStore.lock,
// BlobStore.notedLock), beside its blobs.
//
// The file holds the holder's token on its first line and, once published, a note after it (the fill
// lease's write in flight, issue 11). A note replaces the whole file by rename, so a reader sees the old
// content or the new, never half of either, and the file never stops existing while it is held.

import { createHash, randomUUID } from 'node:crypto';
import { link, mkdir, open, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Lease, NotedLock } from '../leases/lease.ts';

class RenewedLease implements Lease {
  lost = false;
  private readonly timer: NodeJS.Timeout;
  private readonly releaseOnce: () => Promise<void>;
  private readonly publishNote: (info: string) => Promise<void>;

  constructor(renew: () => Promise<boolean>, release: () => Promise<void>, publish: (info: string) => Promise<void>, leaseMs: number) {
    this.timer = setInterval(() => {
      renew().then(
        (ok) => (this.lost ||= !ok),
        () => (this.lost = true),
      );
    }, leaseMs / 3);
    this.timer.unref();
    this.releaseOnce = release;
    this.publishNote = publish;
  }

  async publish(info: string): Promise<void> {
    if (!this.lost) await this.publishNote(info).catch(() => undefined);
  }

  async release(): Promise<void> {
    clearInterval(this.timer);
    await this.releaseOnce().catch(() => undefined);
  }
}

export class FileLock implements NotedLock {
  private readonly file: string;
  private readonly leaseMs: number;

  constructor(file: string, leaseMs: number) {
    this.file = file;
    this.leaseMs = leaseMs;
  }

  async tryAcquire(): Promise<Lease | undefined> {
    const token = randomUUID();
    if (!(await this.create(token))) {
      const info = await stat(this.file).catch(() => undefined);
      // Its holder stopped renewing it: it died holding the lock.
      if (info && Date.now() - info.mtimeMs < this.leaseMs) return undefined;
      if (info && !(await this.removeStale(info.mtimeMs, token))) return undefined;
      if (!(await this.create(token))) return undefined;
    }
    const mine = async (): Promise<boolean> => firstLine(await readFile(this.file, 'utf8').catch(() => '')) === token;
    return new RenewedLease(
      async () => {
        if (!(await mine())) return false;
        await utimes(this.file, new Date(), new Date());
        return true;
      },
      async () => {
        if (await mine()) await rm(this.file, { force: true });
      },
      async (note) => {
        if (!(await mine())) return;
        const next = `${this.file}.${token}`;
        await writeFile(next, `${token}\n${note}`);
        await rename(next, this.file).catch(async (error: unknown) => {
          await rm(next, { force: true });
          throw error;
        });
      },
      this.leaseMs,
    );
  }

  async peek(): Promise<{ held: boolean; info: string | undefined }> {
    const [content, info] = await Promise.all([readFile(this.file, 'utf8').catch(() => undefined), stat(this.file).catch(() => undefined)]);
    // A file its holder stopped renewing is a dead holder's: not held, whatever it says.
    if (content === undefined || !info || Date.now() - info.mtimeMs >= this.leaseMs) return { held: false, info: undefined };
    const newline = content.indexOf('\n');
    return { held: true, info: newline < 0 ? undefined : content.slice(newline + 1) };
  }

  async close(): Promise<void> {}

  /**
   * Takes a dead holder's file away — but only that file. Several processes may judge it stale at once;
   * a plain rm could then remove the lock one of them had just created in its place, and both would hold
   * it. So the file is first moved aside (one process wins the rename, and only it goes on to create),
   * and a file that turns out to be newer than the one judged stale — another process's fresh lock — is
   * put back.
   */
  private async removeStale(staleMtimeMs: number, token: string): Promise<boolean> {
    const aside = `${this.file}.stale.${token}`;
    try {
      await rename(this.file, aside);
    } catch (error) {
      // Gone already: another process is taking it over (only the one that moved the stale file creates
      // the next one, so racing it with a create of our own could make two holders).
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw error;
    }
    const moved = await stat(aside).catch(() => undefined);
    if (moved && moved.mtimeMs !== staleMtimeMs) {
      // A live lock: back where it was, unless yet another one was created meanwhile.
      await link(aside, this.file).catch(() => undefined);
      await rm(aside, { force: true });
      return false;
    }
    await rm(aside, { force: true });
    return true;
  }

  private async create(token: string): Promise<boolean> {
    try {
      const handle = await open(this.file, 'wx').catch(async (error: unknown) => {
        // The first lock in a directory made on demand (the store's leases/).
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        await mkdir(path.dirname(this.file), { recursive: true });
        return open(this.file, 'wx');
      });
      await handle.writeFile(token);
      await handle.close();
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    }
  }
}

/**
 * The lock file of the noted lock `name` in `dir`. Names carry repositories and tags (`tag:hub/library/
 * ubuntu:24.04`), so the file is named by a hash of the name: any name maps to one safe file name, and
 * none can climb out of `dir`. The kind before the first colon stays readable for whoever lists leases/.
 */
export function notedLockFile(dir: string, name: string): string {
  const kind = /^[a-z0-9-]{1,32}/.exec(name)?.[0] ?? 'lock';
  return path.join(dir, `${kind}.${createHash('sha256').update(name).digest('hex').slice(0, 40)}.lock`);
}

function firstLine(text: string): string {
  const newline = text.indexOf('\n');
  return newline < 0 ? text : text.slice(0, newline);
}

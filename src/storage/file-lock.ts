// A lock file with a lease, for processes that share a directory but no Redis (a `pullthrough gc` beside
// the server, workers on one host, or replicas on one volume while Redis is unreachable): exclusive
// create, renewed by touching it, taken over once it is older than the lease. A holder that dies therefore
// never blocks the others for longer than one lease. The filesystem store hands these out (BlobStore.lock,
// BlobStore.notedLock), beside its blobs.
//
// The file holds the holder's token on its first line and, once published, a note after it (the fill
// lease's write in flight, issue 11). A note replaces the whole file by rename, so a reader sees the old
// content or the new, never half of either, and the file never stops existing while it is held.

import { randomUUID } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
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
      await rm(this.file, { force: true });
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

/** A noted lock's name: lock names joined by colons (`fill:sha256:<hex>`, `stats-slot:3`). */
const NOTED_LOCK_NAME = /^[a-z0-9-]+(:[a-z0-9-]+)*$/;

/** The lock file of the noted lock `name` in `dir`; colons become dots, which lock names never hold. */
export function notedLockFile(dir: string, name: string): string {
  if (!NOTED_LOCK_NAME.test(name)) throw new Error(`not a lock name: ${name}`);
  return path.join(dir, `${name.replaceAll(':', '.')}.lock`);
}

function firstLine(text: string): string {
  const newline = text.indexOf('\n');
  return newline < 0 ? text : text.slice(0, newline);
}

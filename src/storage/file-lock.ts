// A lock file with a lease, for processes that share a directory but no Redis (a `pullthrough gc` beside
// the server, or replicas on one volume while Redis is unreachable): exclusive create, renewed by touching
// it, taken over once it is older than the lease. A holder that dies therefore never blocks the others
// for longer than one lease. The filesystem store hands these out (BlobStore.lock), beside its blobs.

import { randomUUID } from 'node:crypto';
import { open, readFile, rm, stat, utimes } from 'node:fs/promises';
import type { ExclusiveLock, HeldLease } from '../leases/lease.ts';

class RenewedLease implements HeldLease {
  lost = false;
  private readonly timer: NodeJS.Timeout;
  private readonly releaseOnce: () => Promise<void>;

  constructor(renew: () => Promise<boolean>, release: () => Promise<void>, leaseMs: number) {
    this.timer = setInterval(() => {
      renew().then(
        (ok) => (this.lost ||= !ok),
        () => (this.lost = true),
      );
    }, leaseMs / 3);
    this.timer.unref();
    this.releaseOnce = release;
  }

  async release(): Promise<void> {
    clearInterval(this.timer);
    await this.releaseOnce().catch(() => undefined);
  }
}

export class FileLock implements ExclusiveLock {
  private readonly file: string;
  private readonly leaseMs: number;

  constructor(file: string, leaseMs: number) {
    this.file = file;
    this.leaseMs = leaseMs;
  }

  async tryAcquire(): Promise<HeldLease | undefined> {
    const token = randomUUID();
    if (!(await this.create(token))) {
      const info = await stat(this.file).catch(() => undefined);
      // Its holder stopped renewing it: it died holding the lock.
      if (info && Date.now() - info.mtimeMs < this.leaseMs) return undefined;
      await rm(this.file, { force: true });
      if (!(await this.create(token))) return undefined;
    }
    const mine = async (): Promise<boolean> => (await readFile(this.file, 'utf8').catch(() => '')) === token;
    return new RenewedLease(
      async () => {
        if (!(await mine())) return false;
        await utimes(this.file, new Date(), new Date());
        return true;
      },
      async () => {
        if (await mine()) await rm(this.file, { force: true });
      },
      this.leaseMs,
    );
  }

  async close(): Promise<void> {}

  private async create(token: string): Promise<boolean> {
    try {
      const handle = await open(this.file, 'wx');
      await handle.writeFile(token);
      await handle.close();
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    }
  }
}

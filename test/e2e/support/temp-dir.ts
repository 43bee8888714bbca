import { mkdtemp, rm } from 'node:fs/promises';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from './run-command.ts';

/**
 * Short prefixes on purpose: dockerd and containerd put unix sockets under these dirs, and a socket path
 * longer than 107 bytes cannot be bound.
 */
export async function makeTempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `pt-${prefix}-`));
}

/** Mount points at or below `dir`, deepest first, read from /proc/self/mountinfo (field 5 is the mount point). */
async function mountsUnder(dir: string): Promise<string[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  const points = info
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p): p is string => p !== undefined && (p === dir || p.startsWith(`${dir}/`)))
    // Octal escapes (\040 for a space) never occur in our own temp paths, so no unescaping is needed.
    .sort((a, b) => b.length - a.length);
  return [...new Set(points)];
}

/**
 * Removes a temp tree that a daemon may have left mounts in (dockerd's and containerd's shm and
 * rootfs mounts): unmount what is under it first, lazily if busy, or rm would fail with EBUSY.
 */
export async function removeTempDir(dir: string): Promise<void> {
  for (const point of await mountsUnder(dir)) {
    const res = await runCommand('umount', [point], { timeoutMs: 10_000 });
    if (res.code !== 0) await runCommand('umount', ['-l', point], { timeoutMs: 10_000 });
  }
  await rm(dir, { recursive: true, force: true, maxRetries: 3 });
}

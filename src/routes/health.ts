// Liveness and readiness for orchestrators and load balancers: cheap, unauthenticated, JSON.
// /healthz: the process answers. /readyz: it can do its job — the blob store takes a write and the
// metadata store answers — so a replica with a full or read-only disk is taken out of rotation.

import { randomUUID } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';

interface Check {
  ok: boolean;
  error?: string;
}

export async function healthRoutes(app: FastifyInstance): Promise<void> {
  app.get('/healthz', async (_request, reply) => reply.header('cache-control', 'no-store').send({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    const [storage, metadata] = await Promise.all([storageWritable(app.mirror.store.root), metadataReachable(app)]);
    const ready = storage.ok && metadata.ok;
    return reply
      .code(ready ? 200 : 503)
      .header('cache-control', 'no-store')
      .send({ status: ready ? 'ready' : 'not ready', checks: { storage, metadata } });
  });
}

async function storageWritable(root: string): Promise<Check> {
  // In tmp/, which start-up empties, so a probe interrupted by a crash leaves nothing behind for long.
  const probe = path.join(root, 'tmp', `readyz-${randomUUID()}`);
  try {
    await writeFile(probe, 'ok');
    return { ok: true };
  } catch (error) {
    return { ok: false, error: (error as NodeJS.ErrnoException).code ?? 'write failed' };
  } finally {
    await rm(probe, { force: true }).catch(() => undefined);
  }
}

async function metadataReachable(app: FastifyInstance): Promise<Check> {
  return (await app.mirror.metadata.ping()) ? { ok: true } : { ok: false, error: 'metadata store did not answer' };
}

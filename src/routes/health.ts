// Liveness and readiness for orchestrators and load balancers: cheap, unauthenticated, JSON.
// /healthz: the process answers. /readyz: it can do its job — the blob store takes a write and the
// metadata store answers — so a replica with a full or read-only disk is taken out of rotation.

import type { FastifyInstance } from 'fastify';
import type { BlobStore } from '../storage/blob-store.ts';

interface Check {
  ok: boolean;
  error?: string;
}

export async function healthRoutes(app: FastifyInstance): Promise<void> {
  app.get('/healthz', async (_request, reply) => reply.header('cache-control', 'no-store').send({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    const [storage, metadata] = await Promise.all([storageWritable(app.mirror.store), metadataReachable(app)]);
    const ready = storage.ok && metadata.ok;
    return reply
      .code(ready ? 200 : 503)
      .header('cache-control', 'no-store')
      .send({ status: ready ? 'ready' : 'not ready', checks: { storage, metadata } });
  });
}

async function storageWritable(store: Pick<BlobStore, 'probe'>): Promise<Check> {
  try {
    await store.probe();
    return { ok: true };
  } catch (error) {
    return { ok: false, error: (error as NodeJS.ErrnoException).code ?? 'write failed' };
  }
}

async function metadataReachable(app: FastifyInstance): Promise<Check> {
  return (await app.mirror.metadata.ping()) ? { ok: true } : { ok: false, error: 'metadata store did not answer' };
}

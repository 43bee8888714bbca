// Builds a mirror app for tests: temp storage, an in-memory or given Keyv, upstreams pointing at test
// registries, listening on 127.0.0.1 port 0.

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import Keyv from 'keyv';
import { buildApp } from '../../src/app.ts';
import { type Config, type ConfigInput, parseConfig } from '../../src/config.ts';

export interface TestMirror {
  app: FastifyInstance;
  url: string;
  config: Config;
  storage: string;
  close(options?: { keepStorage?: boolean }): Promise<void>;
}

export async function startMirror(
  upstreams: ConfigInput['upstreams'],
  options: { defaultUpstream?: string; storage?: string; keyv?: Keyv | 'configured'; redis?: string; extra?: Partial<ConfigInput> } = {},
): Promise<TestMirror> {
  const storage = options.storage ?? (await mkdtemp(path.join(os.tmpdir(), 'pullthrough-test-')));
  const config = parseConfig({
    listen: '127.0.0.1:0',
    logLevel: process.env.TEST_LOG_LEVEL ?? 'silent',
    storage: { path: storage },
    metadata: options.redis ? { redis: options.redis } : {},
    defaultUpstream: options.defaultUpstream ?? Object.keys(upstreams)[0],
    upstreamTimeouts: { connect: '2s', idle: '5s' },
    upstreams,
    ...options.extra,
  });
  const keyv = options.keyv === 'configured' ? undefined : (options.keyv ?? new Keyv());
  const app = await buildApp(config, keyv ? { keyv } : {});
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    app,
    url,
    config,
    storage,
    async close({ keepStorage = false } = {}) {
      await app.close();
      if (!keepStorage) await rm(storage, { recursive: true, force: true });
    },
  };
}

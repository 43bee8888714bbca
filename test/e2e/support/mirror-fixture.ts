// The end-to-end setting: a real distribution registry behind Docker-Hub-style token auth (counted by
// its proxy), seeded with an OCI image, a Docker v2 schema 2 image and a multi-arch index, and a mirror
// in front of it that treats it as Docker Hub (alias docker.io, library/ for single names).

import type { ConfigInput } from '../../../src/config.ts';
import { startMirror, type TestMirror } from '../../support/mirror.ts';
import { type ImageKind, seedImage, type SeededImage } from './images.ts';
import { startUpstreamRegistry, type UpstreamRegistry } from './upstream-registry.ts';

export interface MirrorFixture {
  upstream: UpstreamRegistry;
  mirror: TestMirror;
  images: Record<ImageKind, SeededImage>;
  /** The mirror's host:port, for image references and client configs. */
  mirrorHost: string;
  restartMirror(): Promise<void>;
  stop(): Promise<void>;
}

export interface MirrorFixtureOptions {
  /** Distinguishes repositories so parallel files never share names. */
  namePrefix: string;
  tagTtl?: string;
  redis?: string;
}

export async function startMirrorFixture(options: MirrorFixtureOptions): Promise<MirrorFixture> {
  const upstream = await startUpstreamRegistry({ auth: 'token' });
  const images = {} as Record<ImageKind, SeededImage>;
  for (const kind of ['oci', 'docker-v2s2', 'multi-arch'] as const) {
    images[kind] = await seedImage(upstream, { name: `library/${options.namePrefix}-${kind}`, tag: 'v1', kind, extraLayerBytes: 256 * 1024 });
  }
  const upstreams: ConfigInput['upstreams'] = {
    dockerhub: { url: upstream.url, aliases: ['docker.io'], defaultNamespace: 'library', tagTtl: options.tagTtl ?? '1h' },
  };
  const mirrorOptions = options.redis ? { keyv: 'configured' as const, redis: options.redis } : { keyv: 'configured' as const };
  let mirror = await startMirror(upstreams, mirrorOptions);
  const fixture: MirrorFixture = {
    upstream,
    images,
    get mirror() {
      return mirror;
    },
    get mirrorHost() {
      return new URL(mirror.url).host;
    },
    async restartMirror() {
      await mirror.close({ keepStorage: true });
      mirror = await startMirror(upstreams, { ...mirrorOptions, storage: mirror.storage });
    },
    async stop() {
      await mirror.close();
      await upstream.stop();
    },
  };
  return fixture;
}

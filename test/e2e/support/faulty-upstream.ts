import { startFaultProxy, type FaultProxy } from './fault-proxy.ts';
import { seedImage, type SeededImage, type SeedImageOptions } from './images.ts';
import { startUpstreamRegistry, type UpstreamRegistry } from './upstream-registry.ts';

export interface FaultyUpstream {
  registry: UpstreamRegistry;
  /** The mirror's upstream: a fault-injecting proxy in front of the real registry. */
  proxy: FaultProxy;
  images: SeededImage[];
  stop(): Promise<void>;
}

/**
 * A real registry (distribution, token auth like Docker Hub) seeded with `images`, behind a fault
 * proxy. The mirror is pointed at `proxy.url`; the token server stays direct, as Docker Hub's is
 * another host than its registry.
 */
export async function startFaultyUpstream(images: SeedImageOptions[]): Promise<FaultyUpstream> {
  const registry = await startUpstreamRegistry({ auth: 'token' });
  try {
    const seeded: SeededImage[] = [];
    for (const image of images) seeded.push(await seedImage(registry, image));
    const proxy = await startFaultProxy(registry.directUrl);
    return {
      registry,
      proxy,
      images: seeded,
      async stop() {
        await proxy.close();
        await registry.stop();
      },
    };
  } catch (error) {
    await registry.stop();
    throw error;
  }
}

/** The largest layer of an image: the one a fault mid-body is aimed at. */
export function largestLayer(image: SeededImage): { digest: string; size: number } {
  const layer = [...image.layers].sort((a, b) => b.size - a.size)[0];
  if (!layer) throw new Error(`${image.name} has no layers`);
  return layer;
}

// What an image is made of, read from its manifests: the platform manifests of an index (optionally only
// some platforms) and the blobs (config and layers) of each image manifest. Shared by the warm set
// (src/prefetch/warm-set.ts) and the one-off `pullthrough prefetch` walk.

export interface Descriptor {
  digest: string;
  size: number;
  mediaType?: string;
  platform?: { os?: string; architecture?: string; variant?: string };
}

/** os/arch[/variant], as docker's --platform writes it. */
export const PLATFORM = /^[a-z0-9]+\/[a-z0-9_]+(?:\/[a-z0-9]+)?$/;

/** Whether an index entry is one of `platforms` (all entries when none are named). */
export function matchesPlatform(descriptor: Descriptor, platforms: readonly string[]): boolean {
  if (platforms.length === 0) return true;
  const p = descriptor.platform;
  if (!p) return false;
  return platforms.some((wanted) => {
    const [os, architecture, variant] = wanted.split('/');
    return p.os === os && p.architecture === architecture && (variant === undefined || p.variant === variant);
  });
}

/** An index entry's platform as text (linux/arm64/v8), or its short digest when it names none. */
export function platformText(descriptor: Descriptor): string {
  const p = descriptor.platform;
  return p ? [p.os, p.architecture, p.variant].filter(Boolean).join('/') : descriptor.digest.slice(0, 19);
}

/** The entries of an index (manifest list) wanted for `platforms`; undefined if `body` is no index. */
export function indexEntries(body: Record<string, unknown>, platforms: readonly string[]): Descriptor[] | undefined {
  if (!Array.isArray(body.manifests)) return undefined;
  return (body.manifests as Array<Descriptor | undefined>).filter(
    (d): d is Descriptor => d !== undefined && d !== null && typeof d.digest === 'string' && matchesPlatform(d, platforms),
  );
}

/** Config and layer digests of image manifests, with the sizes the manifests claim; `layers` apart from configs. */
export function imageBlobs(manifests: ReadonlyArray<Record<string, unknown>>): { blobs: Map<string, number>; layers: Set<string> } {
  const blobs = new Map<string, number>();
  const layers = new Set<string>();
  for (const body of manifests) {
    const config = body.config as Descriptor | undefined;
    if (config && typeof config.digest === 'string') blobs.set(config.digest, Number(config.size) || 0);
    for (const d of (Array.isArray(body.layers) ? body.layers : []) as Array<Descriptor | undefined>) {
      if (d && typeof d.digest === 'string') {
        blobs.set(d.digest, Number(d.size) || 0);
        layers.add(d.digest);
      }
    }
  }
  return { blobs, layers };
}

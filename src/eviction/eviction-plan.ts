// Which kept blobs to evict, in which order: a pure function of what is kept, so the rules are unit-tested
// without a disk.
//
// - Least recently used first. A blob's "use" is the later of its own last access and that of every kept
//   manifest naming it (transitively: index → manifest → layers). A client pulling an image by a cached
//   tag may never ask for layers it already has, and those layers must still count as in use.
// - A manifest goes before the blobs it names, never after: with the rule above a blob is never older
//   than its manifest, ties go to the manifest (the higher node), and a blob named by a manifest that
//   stays is skipped outright.
// - Nothing used within the grace period, and nothing being served by this process, is evicted: another
//   replica or a client may be reading it right now.
// - Size: only once the store is over the cap, down to a low-water mark below it, so a full store does
//   not sweep again for every new blob. Age: anything whose use is older than maxAge goes regardless.

export interface EvictionCandidate {
  digest: string;
  size: number;
  /** Last access (ms since epoch). */
  accessedAt: number;
  /** Digests this blob names if it is a manifest. */
  references?: readonly string[];
}

export interface EvictionLimits {
  maxBytes?: number;
  maxAgeMs?: number;
  graceMs: number;
  now: number;
  /** Bytes on the disk that cannot be evicted but count against the cap (fills in flight). */
  extraBytes?: number;
  /** Digests in use here and now (being served). */
  pinned?: ReadonlySet<string>;
  /** Fraction of the cap a size sweep frees down to. */
  lowWater?: number;
}

export type EvictionReason = 'size' | 'age';

export interface PlannedEviction {
  digest: string;
  size: number;
  reason: EvictionReason;
  /** The use that ranked it (its own or a manifest's that names it). */
  usedAt: number;
}

export interface EvictionPlan {
  evict: PlannedEviction[];
  bytesBefore: number;
  bytesAfter: number;
  /** Bytes that would have gone for the cap but were protected (grace period, being served, named by a kept manifest). */
  protectedBytes: number;
}

export const DEFAULT_LOW_WATER = 0.9;

export function planEviction(candidates: readonly EvictionCandidate[], limits: EvictionLimits): EvictionPlan {
  const byDigest = new Map(candidates.map((c) => [c.digest, c]));
  const parents = new Map<string, EvictionCandidate[]>();
  for (const candidate of candidates) {
    for (const child of candidate.references ?? []) {
      if (child === candidate.digest || !byDigest.has(child)) continue;
      const list = parents.get(child) ?? [];
      list.push(candidate);
      parents.set(child, list);
    }
  }

  const usedAt = new Map<string, number>();
  const height = new Map<string, number>();
  const visiting = new Set<string>();
  // Manifests form a DAG; `visiting` only guards against a crafted cycle.
  const use = (c: EvictionCandidate): number => {
    const known = usedAt.get(c.digest);
    if (known !== undefined) return known;
    if (visiting.has(c.digest)) return c.accessedAt;
    visiting.add(c.digest);
    let latest = c.accessedAt;
    for (const parent of parents.get(c.digest) ?? []) latest = Math.max(latest, use(parent));
    visiting.delete(c.digest);
    usedAt.set(c.digest, latest);
    return latest;
  };
  const levels = (c: EvictionCandidate): number => {
    const known = height.get(c.digest);
    if (known !== undefined) return known;
    if (visiting.has(c.digest)) return 0;
    visiting.add(c.digest);
    let h = 0;
    for (const child of c.references ?? []) {
      const kept = byDigest.get(child);
      if (kept && kept !== c) h = Math.max(h, levels(kept) + 1);
    }
    visiting.delete(c.digest);
    height.set(c.digest, h);
    return h;
  };

  const ordered = [...candidates].sort((a, b) => use(a) - use(b) || levels(b) - levels(a) || a.digest.localeCompare(b.digest));
  const bytesBefore = candidates.reduce((sum, c) => sum + c.size, 0);
  let total = bytesBefore + (limits.extraBytes ?? 0);
  const { maxBytes, maxAgeMs, graceMs, now } = limits;
  const sizeTarget = maxBytes !== undefined && total > maxBytes ? maxBytes * (limits.lowWater ?? DEFAULT_LOW_WATER) : Infinity;
  const evicted = new Set<string>();
  const evict: PlannedEviction[] = [];
  let protectedBytes = 0;

  for (const c of ordered) {
    const used = use(c);
    const tooOld = maxAgeMs !== undefined && now - used >= maxAgeMs;
    const tooBig = total > sizeTarget;
    // Ordered by use: once one is neither too old nor needed for the cap, none after it is.
    if (!tooOld && !tooBig) break;
    const recentlyUsed = now - c.accessedAt < graceMs;
    const namedByKeptManifest = (parents.get(c.digest) ?? []).some((parent) => !evicted.has(parent.digest));
    if (recentlyUsed || limits.pinned?.has(c.digest) || namedByKeptManifest) {
      protectedBytes += c.size;
      continue;
    }
    evicted.add(c.digest);
    evict.push({ digest: c.digest, size: c.size, reason: tooOld ? 'age' : 'size', usedAt: used });
    total -= c.size;
  }
  return { evict, bytesBefore, bytesAfter: bytesBefore - evict.reduce((sum, e) => sum + e.size, 0), protectedBytes };
}

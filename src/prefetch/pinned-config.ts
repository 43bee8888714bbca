// The `prefetch:` list of the config (issue 13, item 4): images the mirror keeps warm. An entry is an
// image reference as for docker pull (`alpine:3.20`, `ghcr.io/owner/img:tag`, `quay.io/x/y@sha256:...`)
// or `{ image, platforms: [linux/amd64, linux/arm64] }` to keep only some platforms of an index.

import { z } from 'zod';
import { parseImageReference } from '../cli/image-reference.ts';
import { PLATFORM } from './image-contents.ts';

const imageText = z.string().superRefine((value, ctx) => {
  try {
    parseImageReference(value);
  } catch (error) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${(error as Error).message} (expected e.g. alpine:3.20, ghcr.io/owner/img:tag)` });
  }
});

export const pinnedImage = z.preprocess(
  (value) => (typeof value === 'string' ? { image: value } : value),
  z
    .object({
      image: imageText,
      platforms: z.array(z.string().regex(PLATFORM, 'expected a platform such as linux/arm64')).min(1).optional(),
    })
    .strict()
    .transform((value) => ({ image: value.image.trim(), platforms: value.platforms ?? [] })),
);

export type PinnedImageConfig = z.output<typeof pinnedImage>;

/**
 * Problems a schema cannot see: an entry naming a registry host that is no configured upstream (the
 * mirror never contacts an unconfigured registry, so the entry could never be fetched).
 */
export function pinnedImageProblems(entries: unknown, knownHosts: ReadonlySet<string>): string[] {
  if (!Array.isArray(entries)) return [];
  const problems: string[] = [];
  entries.forEach((entry, index) => {
    const text = typeof entry === 'string' ? entry : (entry as { image?: unknown } | null)?.image;
    if (typeof text !== 'string') return;
    let registry: string | undefined;
    try {
      registry = parseImageReference(text).registry;
    } catch {
      return;
    }
    if (registry !== undefined && !knownHosts.has(registry.toLowerCase())) {
      problems.push(`prefetch.${index}: "${text}" names registry ${registry}, which is no configured upstream (name, alias or URL host)`);
    }
  });
  return problems;
}

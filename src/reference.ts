// Repository names, tags and digests, validated by the grammar of the OCI distribution spec
// ("Pulling manifests": <name>, <reference>) so nothing malformed reaches the store or an upstream.

import { RegistryError } from './errors.ts';

const NAME_COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
const NAME = new RegExp(`^${NAME_COMPONENT}(?:/${NAME_COMPONENT})*$`);
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
const MAX_NAME_LENGTH = 255;

/** Digest algorithms the store can verify, with the length of their hex encoding. */
const DIGEST_ALGORITHMS = { sha256: 64, sha512: 128 } as const;
export type DigestAlgorithm = keyof typeof DIGEST_ALGORITHMS;

export interface Digest {
  algorithm: DigestAlgorithm;
  hex: string;
  /** `algorithm:hex` */
  text: string;
}

export function isValidName(name: string): boolean {
  return name.length <= MAX_NAME_LENGTH && NAME.test(name);
}

export function assertValidName(name: string): void {
  if (!isValidName(name)) throw new RegistryError('NAME_INVALID', 'invalid repository name', { detail: { name } });
}

export function isTag(reference: string): boolean {
  return TAG.test(reference);
}

/** Parses `sha256:<64 hex>` (or sha512); anything else, including unknown algorithms, is undefined. */
export function parseDigest(text: string): Digest | undefined {
  const colon = text.indexOf(':');
  if (colon < 0) return undefined;
  const algorithm = text.slice(0, colon);
  const hex = text.slice(colon + 1);
  if (!Object.hasOwn(DIGEST_ALGORITHMS, algorithm)) return undefined;
  const length = DIGEST_ALGORITHMS[algorithm as DigestAlgorithm];
  if (hex.length !== length || !/^[a-f0-9]+$/.test(hex)) return undefined;
  return { algorithm: algorithm as DigestAlgorithm, hex, text };
}

export function requireDigest(text: string): Digest {
  const digest = parseDigest(text);
  if (!digest) throw new RegistryError('DIGEST_INVALID', 'invalid digest', { detail: { digest: text } });
  return digest;
}

/** A manifest reference: a digest or a tag. */
export type ManifestReference = { kind: 'digest'; digest: Digest } | { kind: 'tag'; tag: string };

export function parseManifestReference(text: string): ManifestReference {
  if (text.includes(':')) return { kind: 'digest', digest: requireDigest(text) };
  if (!isTag(text)) throw new RegistryError('TAG_INVALID', 'invalid tag', { detail: { tag: text } });
  return { kind: 'tag', tag: text };
}

// The digests a manifest keeps alive: an image manifest's config and layers, an index's child manifests
// (OCI image spec "Image Manifest" / "Image Index"; Docker v2 schema 2 and manifest lists have the same
// fields; schema 1 names its layers in fsLayers[].blobSum). Eviction reads these so a blob never goes
// before a manifest that still names it. `subject` is left out: it points at another image (a referrer's
// target), which the referrer does not own.

/** distribution refuses manifests over 4 MiB; a larger blob is never read as one. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/** The digests `bytes` references if it is a manifest, else undefined (a layer, a config blob). */
export function manifestReferences(bytes: Buffer): string[] | undefined {
  // Cheap rejection first: layers are gzip/zstd/tar, never a JSON object.
  if (bytes.length === 0 || bytes.length > MAX_MANIFEST_BYTES || firstNonSpace(bytes) !== 0x7b) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!isObject(parsed) || typeof parsed.schemaVersion !== 'number') return undefined;
  const digests: string[] = [];
  const add = (descriptor: unknown, field = 'digest'): void => {
    if (isObject(descriptor) && typeof descriptor[field] === 'string') digests.push(descriptor[field]);
  };
  add(parsed.config);
  for (const list of [parsed.layers, parsed.manifests, parsed.blobs]) {
    if (Array.isArray(list)) for (const descriptor of list) add(descriptor);
  }
  if (Array.isArray(parsed.fsLayers)) for (const layer of parsed.fsLayers) add(layer, 'blobSum');
  // A config blob has no schemaVersion; a JSON blob that has one but names nothing is not a manifest.
  return digests.length > 0 ? [...new Set(digests)] : undefined;
}

function firstNonSpace(bytes: Buffer): number | undefined {
  for (const byte of bytes) if (byte !== 0x20 && byte !== 0x0a && byte !== 0x0d && byte !== 0x09) return byte;
  return undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

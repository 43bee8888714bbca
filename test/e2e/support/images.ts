import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { fetchManifestDirect, sha256Digest } from './registry-client.ts';
import { runChecked } from './run-command.ts';
import { createTar } from './tar-archive.ts';
import { makeTempDir, removeTempDir } from './temp-dir.ts';
import type { UpstreamRegistry } from './upstream-registry.ts';

export type ImageKind = 'oci' | 'docker-v2s2' | 'multi-arch';

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
}

export const LINUX_AMD64: Platform = { architecture: 'amd64', os: 'linux' };
export const LINUX_ARM64: Platform = { architecture: 'arm64', os: 'linux', variant: 'v8' };

export interface ImageContentOptions {
  /**
   * 'deterministic' (default): bytes derive from name, tag and platform, so a rebuild gives the same digests,
   * and two different images never share a blob (blob counts stay per image). 'random': fresh bytes each time.
   */
  content?: 'deterministic' | 'random';
  /** Adds a second layer holding this many bytes of incompressible data (its blob is about this size). */
  extraLayerBytes?: number;
}

export interface BlobInfo {
  digest: string;
  size: number;
  mediaType: string;
}

export interface LayerInfo extends BlobInfo {
  /** sha256 of the uncompressed tar, as listed in the config's rootfs.diff_ids. */
  diffId: string;
}

export interface PlatformImage {
  platform: Platform;
  /** Digest of this platform's image manifest (in a multi-arch image: the child of the index). */
  digest: string;
  /** Size of that manifest in bytes. */
  size: number;
  mediaType: string;
  config: BlobInfo;
  layers: LayerInfo[];
}

export interface OciLayoutImage {
  dir: string;
  tag: string;
  /** Digest and media type of what index.json points at for `tag` (a manifest or, multi-arch, an index). */
  digest: string;
  mediaType: string;
  images: PlatformImage[];
}

export interface BuildLayoutOptions extends ImageContentOptions {
  tag: string;
  /** One entry: an image manifest; several: an OCI image index over them. */
  platforms: Platform[];
  /** Mixed into the deterministic content so that different images differ. */
  seed: string;
}

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';

function platformName(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter((x) => x !== undefined).join('/');
}

/** Incompressible bytes; deterministic ones come from AES-CTR keyed by the seed (fast, unlike hashing in a loop). */
function dataBytes(size: number, mode: 'deterministic' | 'random', seed: string): Buffer {
  if (mode === 'random') return randomBytes(size);
  const key = createHash('sha256').update(seed).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16, 0));
  return Buffer.concat([cipher.update(Buffer.alloc(size, 0)), cipher.final()]);
}

/** Writes a blob into the layout's content store and returns its descriptor fields. */
async function writeBlob(dir: string, data: Buffer): Promise<{ digest: string; size: number }> {
  const digest = sha256Digest(data);
  await writeFile(join(dir, 'blobs', 'sha256', digest.slice('sha256:'.length)), data);
  return { digest, size: data.length };
}

async function buildPlatformImage(dir: string, platform: Platform, opts: BuildLayoutOptions): Promise<PlatformImage> {
  const mode = opts.content ?? 'deterministic';
  const seed = `${opts.seed}|${opts.tag}|${platformName(platform)}`;
  // Tiny but real content: a text file that names the image, so a pulled rootfs can be told apart.
  const nonce = mode === 'random' ? randomBytes(8).toString('hex') : createHash('sha256').update(seed).digest('hex').slice(0, 16);
  const text = `pullthrough e2e image ${opts.seed}:${opts.tag} ${platformName(platform)} ${nonce}\n`;
  const layerTars: Buffer[] = [
    createTar([
      { path: 'etc/' },
      { path: 'etc/pullthrough-image', content: Buffer.from(text) },
      { path: 'etc/pullthrough-filler', content: Buffer.from(text.repeat(Math.ceil(3000 / text.length))) },
    ]),
  ];
  if (opts.extraLayerBytes !== undefined && opts.extraLayerBytes > 0) {
    layerTars.push(
      createTar([{ path: 'data/' }, { path: 'data/blob.bin', content: dataBytes(opts.extraLayerBytes, mode, seed) }]),
    );
  }
  const layers: LayerInfo[] = [];
  for (const tar of layerTars) {
    // gzipSync writes mtime 0 and a fixed OS byte, so compressed bytes are reproducible too.
    const gz = gzipSync(tar);
    layers.push({ ...(await writeBlob(dir, gz)), mediaType: OCI_LAYER_GZIP, diffId: sha256Digest(tar) });
  }
  const config = Buffer.from(
    JSON.stringify({
      created: '2020-01-01T00:00:00Z',
      architecture: platform.architecture,
      os: platform.os,
      ...(platform.variant === undefined ? {} : { variant: platform.variant }),
      config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['/bin/sh'] },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      history: layers.map(() => ({ created: '2020-01-01T00:00:00Z', created_by: 'pullthrough e2e harness' })),
    }),
  );
  const configInfo: BlobInfo = { ...(await writeBlob(dir, config)), mediaType: OCI_CONFIG };
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: configInfo,
      layers: layers.map(({ mediaType, digest, size }) => ({ mediaType, digest, size })),
    }),
  );
  const written = await writeBlob(dir, manifest);
  return { platform, digest: written.digest, size: written.size, mediaType: OCI_MANIFEST, config: configInfo, layers };
}

/** Writes an OCI image layout (https://github.com/opencontainers/image-spec/blob/main/image-layout.md) to `dir`. */
export async function buildOciLayout(dir: string, opts: BuildLayoutOptions): Promise<OciLayoutImage> {
  const first = opts.platforms[0];
  if (first === undefined) throw new Error('at least one platform');
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const images: PlatformImage[] = [];
  for (const p of opts.platforms) images.push(await buildPlatformImage(dir, p, opts));
  let top: { digest: string; size: number; mediaType: string };
  if (opts.platforms.length === 1 && images[0] !== undefined) {
    top = { digest: images[0].digest, size: images[0].size, mediaType: OCI_MANIFEST };
  } else {
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: images.map((img) => ({
          mediaType: img.mediaType,
          digest: img.digest,
          size: img.size,
          platform: img.platform,
        })),
      }),
    );
    top = { ...(await writeBlob(dir, index)), mediaType: OCI_INDEX };
  }
  await writeFile(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [{ ...top, annotations: { 'org.opencontainers.image.ref.name': opts.tag } }],
    }),
  );
  return { dir, tag: opts.tag, digest: top.digest, mediaType: top.mediaType, images };
}

export interface SeedImageOptions extends ImageContentOptions {
  /** Repository name on the upstream, e.g. library/alpine. */
  name: string;
  tag: string;
  /** Default 'oci'. 'docker-v2s2' converts on push; 'multi-arch' is an OCI index over linux/amd64 and linux/arm64. */
  kind?: ImageKind;
}

export interface SeededImage {
  name: string;
  tag: string;
  kind: ImageKind;
  /** The digest the registry reports for name:tag: what a client pulling directly resolves the tag to. */
  digest: string;
  mediaType: string;
  /** The exact manifest (or index) bytes the registry serves for the tag. */
  manifest: Buffer;
  /** Per platform as stored in the registry (after any format conversion). */
  platforms: PlatformImage[];
  /** Every layer blob of every platform. */
  layers: LayerInfo[];
  /** Configs and layers: every blob a full pull of all platforms fetches. */
  blobs: BlobInfo[];
  /** `${host}/${name}:${tag}`. */
  ref(host: string): string;
}

interface ManifestJson {
  mediaType?: string;
  config?: BlobInfo;
  layers?: BlobInfo[];
  manifests?: Array<BlobInfo & { platform?: Platform }>;
}

function parseManifest(body: Buffer): ManifestJson {
  return JSON.parse(body.toString('utf8')) as ManifestJson;
}

/** Reads back what the registry holds, taking diff_ids from the built layout (layer bytes never change on push). */
async function describeStored(
  registry: UpstreamRegistry,
  name: string,
  manifestBody: Buffer,
  digest: string,
  mediaType: string,
  built: OciLayoutImage,
): Promise<PlatformImage[]> {
  const diffIds = new Map(built.images.flatMap((img) => img.layers.map((l) => [l.digest, l.diffId] as const)));
  const describe = (platform: Platform, body: Buffer, d: string, mt: string): PlatformImage => {
    const m = parseManifest(body);
    if (m.config === undefined || m.layers === undefined) throw new Error(`not an image manifest: ${d}`);
    return {
      platform,
      digest: d,
      size: body.length,
      mediaType: mt,
      config: { digest: m.config.digest, size: m.config.size, mediaType: m.config.mediaType },
      layers: m.layers.map((l) => ({ digest: l.digest, size: l.size, mediaType: l.mediaType, diffId: diffIds.get(l.digest) ?? '' })),
    };
  };
  const top = parseManifest(manifestBody);
  if (top.manifests === undefined) {
    const platform = built.images[0]?.platform ?? LINUX_AMD64;
    return [describe(platform, manifestBody, digest, mediaType)];
  }
  const out: PlatformImage[] = [];
  for (const child of top.manifests) {
    const fetched = await fetchManifestDirect(registry, name, child.digest);
    out.push(describe(child.platform ?? LINUX_AMD64, fetched.body, fetched.digest, fetched.mediaType));
  }
  return out;
}

/**
 * Builds an image and pushes it with skopeo to the registry directly (directUrl), so seeding never shows in
 * the counting proxy. The token server does count skopeo's token requests, so its count is reset afterwards.
 */
export async function seedImage(registry: UpstreamRegistry, opts: SeedImageOptions): Promise<SeededImage> {
  const kind = opts.kind ?? 'oci';
  const dir = await makeTempDir('layout');
  let built: OciLayoutImage;
  try {
    built = await buildOciLayout(dir, {
      tag: opts.tag,
      seed: `${opts.name}|${kind}`,
      platforms: kind === 'multi-arch' ? [LINUX_AMD64, LINUX_ARM64] : [LINUX_AMD64],
      ...(opts.content === undefined ? {} : { content: opts.content }),
      ...(opts.extraLayerBytes === undefined ? {} : { extraLayerBytes: opts.extraLayerBytes }),
    });
    const { username, password } = registry.credentials;
    const args = ['copy', '--quiet', '--dest-tls-verify=false', '--dest-creds', `${username}:${password}`];
    if (kind === 'docker-v2s2') args.push('--format', 'v2s2');
    // --all copies the index and every instance; without it skopeo would pick only the host's platform.
    if (kind === 'multi-arch') args.push('--all');
    args.push(`oci:${dir}:${opts.tag}`, `docker://${registry.directHost}/${opts.name}:${opts.tag}`);
    await runChecked('skopeo', args, { timeoutMs: 120_000 });
  } finally {
    await removeTempDir(dir);
  }
  registry.tokenServer?.resetCounts();
  const fetched = await fetchManifestDirect(registry, opts.name, opts.tag);
  const platforms = await describeStored(registry, opts.name, fetched.body, fetched.digest, fetched.mediaType, built);
  const layers = platforms.flatMap((p) => p.layers);
  return {
    name: opts.name,
    tag: opts.tag,
    kind,
    digest: fetched.digest,
    mediaType: fetched.mediaType,
    manifest: fetched.body,
    platforms,
    layers,
    blobs: platforms.flatMap((p) => [p.config, ...p.layers]),
    ref: (host) => `${host}/${opts.name}:${opts.tag}`,
  };
}

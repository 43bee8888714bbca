// `pullthrough prefetch IMAGE...`: warms the cache by pulling images through a running mirror over HTTP,
// as a client would (manifests by tag, then every platform's manifest, config and layers).
//
// Why over HTTP rather than in-process: the running server owns the store's temp files; and going
// through the server uses its single-flight fills, its metrics (the status page shows the prefetch) and
// exactly the routing a client gets. The cost: a mirror must be running — by default the one the config describes.

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, fetch, type Response } from 'undici';
import { BACKGROUND_HEADER } from '../cache/quota-policy.ts';
import { UPSTREAM_MANIFEST_ACCEPT } from '../manifest-media-types.ts';
import { formatBytes } from '../observability/byte-size.ts';
import { type Descriptor, imageBlobs, matchesPlatform, PLATFORM, platformText } from '../prefetch/image-contents.ts';
import { configFile, loadCheckedConfig } from './cli-config.ts';
import { EXIT, UsageError } from './exit-codes.ts';
import { type ImageReference, mirrorUrl, parseImageReference } from './image-reference.ts';
import { Progress } from './progress.ts';

export const PREFETCH_HELP = `Usage: pullthrough prefetch [options] IMAGE...

Pulls images through a running mirror so later pulls are served from its cache. IMAGE is written as for
docker pull: ubuntu:22.04, ghcr.io/owner/app:1.2, quay.io/org/img@sha256:... Names without a registry
host go to the default upstream. For a multi-platform image every platform is fetched, unless
--platform picks some.

Options:
  -p, --platform OS/ARCH[/VARIANT]  only these platforms of an index (repeatable, or comma-separated)
  -m, --mirror URL                  the mirror to pull through (default: the config's listen address)
      --ca FILE                     trust this CA for an https mirror (default with tls: its certificate)
  -j, --concurrency N               blobs fetched at once (default 3, as docker does)
  -c, --config FILE                 configuration file (for the default mirror address)
  -h, --help                        show this help

Progress goes to stderr (bars on a terminal, plain lines otherwise); one summary line per image to stdout.

Prefetch is background work: it never spends an upstream's pull quota reserve (upstreams.<name>.quota).
When the mirror answers 429 (quota at its reserve, spent, or the upstream said 429), prefetch says so,
pauses until the Retry-After the mirror gives (the estimated reset of the quota window) and resumes.

Exit status: 0 every image prefetched, 1 some failed, 2 usage or config error.`;

export async function prefetchCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      platform: { type: 'string', short: 'p', multiple: true },
      mirror: { type: 'string', short: 'm' },
      ca: { type: 'string' },
      concurrency: { type: 'string', short: 'j' },
      config: { type: 'string', short: 'c' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write(`${PREFETCH_HELP}\n`);
    return EXIT.OK;
  }
  if (positionals.length === 0) throw new UsageError('name at least one IMAGE (see pullthrough prefetch --help)');
  const images = positionals.map(parseImageReference);
  const platforms = (values.platform ?? []).flatMap((p) => p.split(',')).filter(Boolean);
  for (const platform of platforms) if (!PLATFORM.test(platform)) throw new UsageError(`not a platform: "${platform}" (use e.g. linux/arm64)`);
  const concurrency = Number(values.concurrency ?? 3);
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new UsageError('--concurrency must be a positive integer');

  const { base, ca } = resolveMirror(values, 'prefetch');

  const agent = new Agent({ ...(ca && { connect: { ca } }) });
  const progress = new Progress();
  let failed = 0;
  try {
    for (const image of images) {
      try {
        const summary = await prefetchImage(base, image, { agent, platforms, concurrency, progress });
        // The summary goes to stdout only; stderr's progress line is just cleared.
        progress.end();
        process.stdout.write(`${summary}\n`);
      } catch (error) {
        failed += 1;
        progress.end(`${image.text}: failed: ${describeFailure(base, error)}`);
      }
    }
  } finally {
    await agent.close();
  }
  return failed > 0 ? EXIT.FAILURE : EXIT.OK;
}

/**
 * The mirror a CLI command talks to: --mirror, else the config's listen address (loopback for a wildcard),
 * with the CA to trust for https (--ca, else the configured certificate).
 */
export function resolveMirror(values: { mirror?: string | undefined; ca?: string | undefined; config?: string | undefined }, command: string): { base: string; ca: Buffer | undefined } {
  let base = values.mirror;
  let ca: Buffer | undefined = values.ca ? readCa(values.ca) : undefined;
  if (!base) {
    const file = configFile(values.config);
    const config = loadCheckedConfig(file, { checkSecrets: false });
    const host = ['0.0.0.0', '::', ''].includes(config.listen.host) ? '127.0.0.1' : config.listen.host;
    base = `${config.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${config.listen.port}`;
    if (config.tls && !ca) ca = readCa(config.tls.cert);
    // Say which mirror: a default address that is not the running mirror's would otherwise look like
    // the mirror failing (issue 12).
    process.stderr.write(`pullthrough ${command}: through ${base} (the listen address in ${file}; --mirror URL to choose)\n`);
  }
  if (!/^https?:\/\//.test(base)) throw new UsageError(`--mirror must be an http:// or https:// URL, got "${base}"`);
  return { base, ca };
}

/** A failure in words: an unreachable mirror names its address and the system's reason. */
export function describeFailure(base: string, error: unknown): string {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
  if (error instanceof TypeError && cause) {
    const reason = typeof cause.code === 'string' ? cause.code : String(cause.message);
    return `cannot reach the mirror at ${base} (${reason}); is it running there?`;
  }
  return (error as Error).message;
}

function readCa(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new UsageError(`cannot read CA file ${file} (${(error as NodeJS.ErrnoException).code})`);
  }
}

interface PrefetchContext {
  agent: Agent;
  platforms: string[];
  concurrency: number;
  progress: Progress;
}

async function prefetchImage(base: string, image: ImageReference, context: PrefetchContext): Promise<string> {
  const top = await getManifest(base, image, image.reference, context);
  const manifests: Array<{ body: Record<string, unknown>; label: string }> = [];
  if (Array.isArray(top.body.manifests)) {
    const children = (top.body.manifests as Descriptor[]).filter((d) => matchesPlatform(d, context.platforms));
    if (children.length === 0) throw new Error(`no manifest for ${context.platforms.join(', ')} in the index`);
    for (const child of children) {
      const fetched = await getManifest(base, image, child.digest, context);
      manifests.push({ body: fetched.body, label: platformText(child) });
    }
  } else {
    manifests.push({ body: top.body, label: '' });
  }

  // Configs are blobs to fetch but not layers: counted apart, so "3 layers" means what `docker pull` shows.
  const { blobs, layers } = imageBlobs(manifests.map((m) => m.body));
  const totalBytes = [...blobs.values()].reduce((a, b) => a + b, 0);
  context.progress.begin(image.text, blobs.size, totalBytes);
  const queue = [...blobs.entries()];
  const worker = async (): Promise<void> => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      const [digest, size] = next;
      const received = await getBlob(base, image, digest, context);
      if (size > 0 && received !== size) throw new Error(`${digest}: got ${received} bytes, the manifest says ${size}`);
      context.progress.blobDone(digest, received);
    }
  };
  await Promise.all(Array.from({ length: Math.min(context.concurrency, Math.max(1, queue.length)) }, worker));
  const platforms = manifests.map((m) => m.label).filter(Boolean);
  const configs = blobs.size - layers.size;
  return `${image.text}: ${top.digest} · ${manifests.length} manifest${manifests.length === 1 ? '' : 's'}${platforms.length ? ` (${platforms.join(', ')})` : ''} · ${layers.size} layer${layers.size === 1 ? '' : 's'} + ${configs} config${configs === 1 ? '' : 's'} · ${formatBytes(totalBytes)}`;
}

/**
 * A request to the mirror that waits out the pull quota (issue 15): a 429 names the reason and the
 * Retry-After when the quota window resets; prefetch says it pauses, sleeps that long and asks again.
 */
async function quotaAware(label: string, progress: Progress, send: () => Promise<Response>): Promise<Response> {
  for (;;) {
    const response = await send();
    if (response.status !== 429) return response;
    const text = await response.text();
    const retryAfter = Number(response.headers.get('retry-after'));
    const seconds = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : DEFAULT_PAUSE_S;
    const resumeAt = new Date(Date.now() + seconds * 1000).toISOString().slice(11, 19);
    progress.note(`${label}: paused: ${errorMessage(text) || 'the mirror answered 429 Too Many Requests'}; resuming in ${seconds} s (${resumeAt} UTC)`);
    await sleep(seconds * 1000);
    progress.note(`${label}: resumed`);
  }
}

/** A 429 without Retry-After: ask again after this long. */
const DEFAULT_PAUSE_S = 60;

async function getManifest(base: string, image: ImageReference, reference: string, context: PrefetchContext): Promise<{ digest: string; body: Record<string, unknown> }> {
  const response = await quotaAware(image.text, context.progress, () =>
    fetch(mirrorUrl(base, image, 'manifests', reference), { headers: { accept: UPSTREAM_MANIFEST_ACCEPT, [BACKGROUND_HEADER]: '1' }, dispatcher: context.agent }));
  const text = await response.text();
  if (response.status !== 200) throw new Error(`manifest ${reference}: HTTP ${response.status} ${errorCode(text)}`.trim());
  const body = JSON.parse(text) as Record<string, unknown>;
  return { digest: response.headers.get('docker-content-digest') ?? reference, body };
}

async function getBlob(base: string, image: ImageReference, digest: string, context: PrefetchContext): Promise<number> {
  const response = await quotaAware(image.text, context.progress, () =>
    fetch(mirrorUrl(base, image, 'blobs', digest), { headers: { [BACKGROUND_HEADER]: '1' }, dispatcher: context.agent }));
  if (response.status !== 200 || !response.body) {
    const text = await response.text();
    throw new Error(`blob ${digest}: HTTP ${response.status} ${errorCode(text)}`.trim());
  }
  let received = 0;
  for await (const chunk of response.body) {
    received += (chunk as Uint8Array).length;
    context.progress.bytes((chunk as Uint8Array).length);
  }
  return received;
}

function errorMessage(body: string): string {
  try {
    const parsed = JSON.parse(body) as { errors?: Array<{ message?: string }> };
    return parsed.errors?.[0]?.message ?? '';
  } catch {
    return '';
  }
}

function errorCode(body: string): string {
  try {
    const parsed = JSON.parse(body) as { errors?: Array<{ code?: string }> };
    return parsed.errors?.[0]?.code ?? '';
  } catch {
    return '';
  }
}

// The configuration: one YAML file validated once at start, environment overrides applied, then frozen.
// A bad config is one error naming every problem (ConfigError), so an operator fixes it in one go.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { parseDuration, parseSize } from './duration.ts';
import { pinnedImage, pinnedImageProblems } from './prefetch/pinned-config.ts';

export const DEFAULT_CONFIG_PATH = fileURLToPath(new URL('../config/default.yaml', import.meta.url));

const duration = z
  .union([z.string(), z.number()])
  .transform((value, ctx) => {
    const ms = typeof value === 'number' ? value * 1000 : parseDuration(value);
    if (ms === undefined) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `not a duration: "${value}" (use e.g. 30s, 5m, 1h)` });
      return z.NEVER;
    }
    return ms;
  });

const size = z
  .union([z.string(), z.number()])
  .transform((value, ctx) => {
    const bytes = typeof value === 'number' ? value : parseSize(value);
    if (bytes === undefined || !Number.isFinite(bytes) || bytes <= 0) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `not a size: "${value}" (use e.g. 50GiB, 500MB)` });
      return z.NEVER;
    }
    return bytes;
  });

const listen = z.string().transform((value, ctx) => {
  const match = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(value);
  if (!match) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `expected host:port (e.g. 0.0.0.0:5000), got "${value}"` });
    return z.NEVER;
  }
  const port = Number(match[2]);
  if (port > 65535) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `port ${match[2]} in "${value}" is out of range (0-65535)` });
    return z.NEVER;
  }
  return { host: (match[1] as string).replace(/^\[|\]$/g, ''), port };
});

// One check, one message: zod's .url() and a scheme refinement would both report a bad URL.
const upstreamUrl = z
  .string()
  .refine((value) => /^https?:\/\/[^/\s]/.test(value) && URL.canParse(value), (value) => ({
    message: `must be an http:// or https:// URL, got "${value}"`,
  }))
  .transform((value) => value.replace(/\/+$/, ''));

const HOST_NAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/** A repository rule: path segments of name characters, `*` (one segment) or `**` (any number). */
const repositoryPattern = z
  .string()
  .regex(/^(?:\*\*|\*|[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)(?:\/(?:\*\*|\*|[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*))*$/, 'expected a repository pattern such as library/*, myorg/** or team/app');

const redisUrl = z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL');

const upstream = z
  .object({
    url: upstreamUrl,
    aliases: z.array(z.string().min(1)).default([]),
    defaultNamespace: z.string().regex(/^[a-z0-9]+(?:[._-][a-z0-9]+)*$/).optional(),
    tagTtl: duration.default('5m'),
    // A tag or repository the upstream answered 404 for is remembered this long (issue 13), so a CI loop
    // with a typo does not hammer the upstream; 0 turns it off. Never after a 5xx, 429 or no answer.
    negativeTtl: duration.default('30s'),
    // Issue 15: pulls of the upstream's quota (ratelimit-* headers) kept for content nobody has yet: at
    // the reserve a tag whose digest changed keeps serving the cached one until the window resets.
    // A number of pulls or a percentage of the limit ("10%"); 0 = spend the quota down to the last pull.
    quota: z
      .object({
        reserve: z
          .union([z.number().int().min(0), z.string().regex(/^\s*\d+(?:\.\d+)?\s*%\s*$/, 'expected a number of pulls or a percentage such as "10%"')])
          .default(0),
      })
      .strict()
      .default({}),
    username: z.string().min(1).optional(),
    passwordEnv: z.string().min(1).optional(),
    passwordFile: z.string().min(1).optional(),
    // With credentials, an upstream may serve private images: only authenticated clients get its content
    // unless it is marked public (e.g. Docker Hub credentials used only for the higher pull limit).
    public: z.boolean().default(false),
    // Hosts besides the upstream's own that may receive its credentials as a token realm (issue 9: an
    // upstream's 401 is a claim; credentials go nowhere else). Docker Hub's auth.docker.io is added by
    // default for a Docker Hub URL.
    tokenHosts: z.array(z.string().min(1)).optional(),
    // Follow redirects and token realms to loopback, link-local and private addresses (a registry whose
    // CDN or token service lives on the LAN). Off: an upstream cannot aim the mirror at internal hosts.
    allowPrivateAddresses: z.boolean().default(false),
    // Virtual hosts that route to this upstream (`ghcr.cache.local/owner/img`); matched on the request's
    // Host (X-Forwarded-Host with trustProxy). Never an address to contact.
    hosts: z.array(z.string().regex(HOST_NAME, 'expected a host name such as ghcr.cache.local')).default([]),
    // Repository rules (issue 13): with `allow`, only matching repositories are served; `deny` wins over
    // allow. Patterns: exact names, `*` for one path segment, `**` for any number (library/*, myorg/**).
    allow: z.array(repositoryPattern).optional(),
    deny: z.array(repositoryPattern).default([]),
    // PEM bundle of CAs to trust for this upstream (a private registry with its own CA); absent = the
    // system's and Node's roots.
    ca: z.string().min(1).optional(),
  })
  .strict()
  .superRefine((value, ctx) => {
    if (value.passwordEnv && value.passwordFile) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'set passwordEnv or passwordFile, not both' });
    }
    if ((value.passwordEnv || value.passwordFile) && !value.username) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'a password needs a username' });
    }
  });

/**
 * storage.s3 (issue 10): where blobs are kept when they live in object storage. Secrets never sit in the
 * file: the access key pair comes from environment variables or files (mounted secrets), or — with
 * neither — from the SDK's default chain (AWS_ACCESS_KEY_ID, an instance role).
 */
const s3Storage = z
  .object({
    // Absent: AWS S3 itself (the region's endpoint).
    endpoint: upstreamUrl.optional(),
    bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'expected an S3 bucket name (3-63 lowercase letters, digits, dots, dashes)'),
    region: z.string().min(1).default('us-east-1'),
    // Keys start with this (several mirrors or environments in one bucket); a trailing "/" is added.
    prefix: z
      .string()
      .regex(/^(?!\/)[\w!.*'()/-]*$/, 'expected a key prefix such as "mirror/" (no leading "/")')
      .default('')
      .transform((value) => (value === '' || value.endsWith('/') ? value : `${value}/`)),
    // Path-style URLs (endpoint/bucket/key): what MinIO, Ceph RGW and most self-hosted servers need.
    forcePathStyle: z.boolean().default(false),
    accessKeyEnv: z.string().min(1).optional(),
    accessKeyFile: z.string().min(1).optional(),
    secretKeyEnv: z.string().min(1).optional(),
    secretKeyFile: z.string().min(1).optional(),
    // Kept-blob GETs answered with 307 to a short-lived presigned URL (after auth and policy); off by
    // default: clients must then reach the bucket themselves.
    redirect: z.boolean().default(false),
    // The endpoint presigned URLs name, when clients reach the bucket by another address than the mirror.
    publicEndpoint: upstreamUrl.optional(),
  })
  .strict()
  .superRefine((value, ctx) => {
    if (value.accessKeyEnv && value.accessKeyFile) ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'set accessKeyEnv or accessKeyFile, not both' });
    if (value.secretKeyEnv && value.secretKeyFile) ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'set secretKeyEnv or secretKeyFile, not both' });
    const access = Boolean(value.accessKeyEnv || value.accessKeyFile);
    const secret = Boolean(value.secretKeyEnv || value.secretKeyFile);
    if (access !== secret) ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'an access key needs a secret key and the other way round' });
  });

/** Who may pull: clients authenticate against an htpasswd file, with Basic or the registry token flow. */
const auth = z
  .object({
    htpasswd: z.string().min(1),
    /** Token endpoint URL in the challenge; absent = <the address the client used>/token. */
    realm: z.string().url().optional(),
    service: z.string().min(1).default('pullthrough'),
    tokenTtl: duration.default('5m'),
    /** Failed logins from one client address within failedLoginWindow before it is answered 429. */
    maxFailedLogins: z.number().int().positive().default(10),
    failedLoginWindow: duration.default('5m'),
    /** HMAC key for tokens, shared by replicas; absent = a random key per process (tokens die with it). */
    secretEnv: z.string().min(1).optional(),
    secretFile: z.string().min(1).optional(),
  })
  .strict()
  .superRefine((value, ctx) => {
    if (value.secretEnv && value.secretFile) ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'set secretEnv or secretFile, not both' });
  });

// Replicas on object storage share no directory (issue 10): a follower streams a fill in flight from the
// leading replica's internal endpoint (src/routes/internal-fills.ts), which answers only requests that carry
// this shared secret. Without a secret there is no endpoint, and such followers wait for the kept blob.
const replicas = z
  .object({
    secretEnv: z.string().min(1).optional(),
    secretFile: z.string().min(1).optional(),
    /** This replica's address as the others reach it (published in the fill lease's note). */
    advertise: z.string().url().regex(/^https?:\/\//, 'must be an http:// or https:// URL').optional(),
  })
  .strict()
  .superRefine((value, ctx) => {
    if (value.secretEnv && value.secretFile) ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'set secretEnv or secretFile, not both' });
    if ((value.secretEnv || value.secretFile) && !value.advertise) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['advertise'], message: 'required with a secret: the address other replicas reach this one at' });
    }
  });

const schema = z
  .object({
    listen: listen.default('127.0.0.1:5000'),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    storage: z.preprocess(
      (value) => value ?? {},
      z
      .object({
        path: z.string().min(1).default('./data'),
        // Eviction (src/eviction): least recently used first once the store passes maxSize; anything not
        // used for maxAge goes regardless. Nothing used within evictionGrace is ever removed.
        maxSize: size.optional(),
        maxAge: duration.optional(),
        evictionGrace: duration.default('5m'),
        evictionInterval: duration.default('1m'),
        // Blobs in S3-compatible object storage instead of under `path` (issue 10); `path` stays the
        // local scratch directory for fills in flight and the embedded metadata database.
        s3: s3Storage.optional(),
      })
      .strict(),
    ),
    // A section whose keys are all commented out reads as null in YAML: same as absent.
    metadata: z.preprocess(
      (value) => value ?? {},
      z
        .object({
          redis: redisUrl.optional(),
          // A Redis Cluster: some of its nodes' URLs (the rest are discovered).
          redisCluster: z.array(redisUrl).min(1).optional(),
          // Redis behind Sentinel: the monitored master's name and some sentinels (host:port).
          redisSentinel: z
            .object({ name: z.string().min(1), sentinels: z.array(z.string().regex(/^[^:\s]+:\d{1,5}$/, 'expected host:port')).min(1) })
            .strict()
            .optional(),
        })
        .strict()
        .extend({
          // Tag records not confirmed for this long are forgotten (else Redis or the embedded store grows
          // for ever); a tag is re-fetched after that.
          tagRecordTtl: duration.default('30d'),
        })
        .refine(
          (value) => [value.redis, value.redisCluster, value.redisSentinel].filter((v) => v !== undefined).length <= 1,
          'set one of redis, redisCluster, redisSentinel',
        ),
    ),
    // Absent: the only upstream, else the Docker Hub one (resolveDefaultUpstream).
    defaultUpstream: z.string().min(1).optional(),
    // Virtual hosts by wildcard (issue 13): with "*.cache.local", ghcr.cache.local routes to the upstream
    // whose name or alias is the first label ("ghcr"); an unknown label is NAME_UNKNOWN.
    virtualHosts: z.string().regex(/^\*\.[a-z0-9.-]+$/i, 'expected a wildcard such as *.cache.local').optional(),
    // Pinned warm set (issue 13): images fetched at start, refreshed every tagTtl, never evicted while
    // listed (src/prefetch/warm-set.ts). `pullthrough prefetch` stays for one-off use.
    prefetch: z.preprocess((value) => value ?? [], z.array(pinnedImage)),
    // X-Forwarded-Host/-Proto/-For name the client's view only when a trusted proxy set them.
    trustProxy: z.boolean().default(false),
    // HTTPS from PEM files (read and checked at start); absent = plain HTTP, e.g. behind a TLS proxy.
    tls: z
      .object({
        cert: z.string().min(1),
        key: z.string().min(1),
        // How long one TLS session-ticket key is used before the next replaces it (src/tls-ticket-keys.ts).
        // At least Node's ticket lifetime (5 minutes), so a fresh ticket is not refused at once; at most a
        // day (and within what a timer can wait).
        ticketKeyRotation: duration
          .default('1h')
          .refine((ms) => ms >= 5 * 60_000 && ms <= 24 * 3_600_000, 'expected a duration from 5m to 24h'),
      })
      .strict()
      .optional(),
    auth: auth.optional(),
    replicas: replicas.optional(),
    // Processes serving one port on this host (issue 11): a number, or auto = one per CPU core. They share
    // the metadata store (Redis, or the embedded one) and fill each blob once between them.
    workers: z.union([z.number().int().min(1).max(256), z.literal('auto')]).default(1),
    // How kept blobs leave the mirror (issue 11).
    serve: z.preprocess(
      (value) => value ?? {},
      z
        .object({
          // With nginx in front (config/nginx-offload.conf): a GET of a kept blob is answered, after every
          // check, with X-Accel-Redirect to an internal location and nginx sends the file itself with
          // sendfile(2), Range included. Only for requests nginx marks as able to (X-Pullthrough-Offload),
          // and only for the filesystem store. A client reaching the mirror directly is streamed as before
          // unless it sends that mark itself (then it gets the empty hand-off it asked for, uncacheable).
          offload: z.boolean().default(false),
          // The internal location nginx serves storage.path/blobs under (must match the nginx config).
          offloadLocation: z.string().regex(/^\/[A-Za-z0-9_./-]*\/$/, 'expected a path starting and ending with /').default('/_pullthrough/blobs/'),
        })
        .strict(),
    ),
    // Bounds on what anonymous clients and hostile upstreams can make the mirror do (README, "Security").
    limits: z.preprocess(
      (value) => value ?? {},
      z
        .object({
          // Larger upstream answers are not manifests / not blobs we keep: refused, never stored.
          maxManifestSize: size.default('4MiB'),
          maxBlobSize: size.default('20GiB'),
          // Upstream downloads running at once, in total and started by one client address; more wait
          // (up to fillQueueTimeout) for a slot, then get 429 TOOMANYREQUESTS.
          maxConcurrentFills: z.number().int().positive().default(32),
          maxConcurrentFillsPerClient: z.number().int().positive().default(8),
          fillQueueTimeout: duration.default('30s'),
          // Client connections: open at once, time to send the request head, time to send the whole
          // request, idle keep-alive, and no byte moving either way (a client that stopped reading).
          maxConnections: z.number().int().positive().default(4096),
          headersTimeout: duration.default('15s'),
          requestTimeout: duration.default('60s'),
          keepAliveTimeout: duration.default('10s'),
          clientIdleTimeout: duration.default('2m'),
        })
        .strict(),
    ),
    upstreamTimeouts: z
      .object({
        connect: duration.default('10s'),
        // No byte for this long aborts a transfer (and an answer's head must be whole within it).
        idle: duration.default('30s'),
        // Bytes per second a blob download must average over each idle period, or it is aborted and its
        // fill slot freed (0: no floor). Without it, an upstream dripping a byte per period holds a slot for good.
        minRate: z
          .preprocess((value) => (typeof value === 'string' && parseSize(value) === 0 ? 0 : value), z.union([z.literal(0), size]))
          .default('16KiB'),
      })
      .strict()
      .default({}),
    upstreams: z
      .record(z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'upstream names are lowercase letters, digits and dashes'), upstream)
      .refine((map) => Object.keys(map).length > 0, 'configure at least one upstream'),
  })
  .strict();

type ParsedConfig = z.output<typeof schema>;
export type UpstreamConfig = ParsedConfig['upstreams'][string] & { name: string; tokenHosts: string[] };
export type Config = Readonly<
  Omit<ParsedConfig, 'upstreams' | 'defaultUpstream'> & { defaultUpstream: string; upstreams: Readonly<Record<string, Readonly<UpstreamConfig>>> }
>;
/** The config as written (before defaults and transforms), e.g. what tests build. */
export type ConfigInput = z.input<typeof schema>;

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(source: string, problems: string[]) {
    super(`invalid configuration (${source}):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/**
 * true/1 and false/0; anything else is passed on as written, so the schema refuses it under the
 * variable's name instead of a typo (`yes`) silently meaning false.
 */
function envBoolean(value: string): boolean | string {
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  return value;
}

/**
 * Environment variables that override single keys, for containers and one-off runs: the variable, the key
 * it sets (a problem with that key then names the variable, not the file), and how.
 */
const ENV_OVERRIDES: Array<[string, string, (raw: Record<string, unknown>, value: string) => void]> = [
  ['PULLTHROUGH_LISTEN', 'listen', (raw, value) => { raw.listen = value; }],
  ['PULLTHROUGH_LOG_LEVEL', 'logLevel', (raw, value) => { raw.logLevel = value; }],
  ['PULLTHROUGH_STORAGE_PATH', 'storage.path', (raw, value) => { raw.storage = { ...asObject(raw.storage), path: value }; }],
  ['PULLTHROUGH_REDIS_URL', 'metadata.redis', (raw, value) => { raw.metadata = { ...asObject(raw.metadata), redis: value }; }],
  ['PULLTHROUGH_DEFAULT_UPSTREAM', 'defaultUpstream', (raw, value) => { raw.defaultUpstream = value; }],
  ['PULLTHROUGH_TRUST_PROXY', 'trustProxy', (raw, value) => { raw.trustProxy = envBoolean(value); }],
  ['PULLTHROUGH_WORKERS', 'workers', (raw, value) => { raw.workers = value === 'auto' ? value : Number(value); }],
  ['PULLTHROUGH_OFFLOAD', 'serve.offload', (raw, value) => { raw.serve = { ...asObject(raw.serve), offload: envBoolean(value) }; }],
];

function asObject(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : {};
}

/**
 * Checks across keys, run on the raw input so they are reported together with every schema problem
 * (zod skips whole-object refinements once any field fails).
 */
function crossKeyProblems(raw: unknown): string[] {
  const problems: string[] = [];
  const config = asObject(raw);
  const upstreams = asObject(config.upstreams);
  if (typeof config.defaultUpstream === 'string' && !Object.hasOwn(upstreams, config.defaultUpstream)) {
    problems.push(`defaultUpstream: "${config.defaultUpstream}" is not one of the configured upstreams (${Object.keys(upstreams).join(', ')})`);
  }
  if (config.defaultUpstream === undefined && Object.keys(upstreams).length > 1 && resolveDefaultUpstream(upstreams) === undefined) {
    problems.push(`defaultUpstream: required with more than one upstream and none of them Docker Hub; set it to one of ${Object.keys(upstreams).join(', ')}`);
  }
  // A virtual host must route to exactly one upstream too.
  const hostOwner = new Map<string, string>();
  for (const [name, value] of Object.entries(upstreams)) {
    const hosts = asObject(value).hosts;
    for (const host of Array.isArray(hosts) ? hosts.filter((h): h is string => typeof h === 'string') : []) {
      const previous = hostOwner.get(host.toLowerCase());
      if (previous !== undefined && previous !== name) problems.push(`upstreams.${name}.hosts: "${host}" routes to both "${previous}" and "${name}"`);
      hostOwner.set(host.toLowerCase(), name);
    }
  }
  // An alias must route to exactly one upstream, or routing would depend on map order.
  const owner = new Map<string, string>();
  for (const [name, value] of Object.entries(upstreams)) {
    const upstream = asObject(value);
    const aliases = Array.isArray(upstream.aliases) ? upstream.aliases.filter((a): a is string => typeof a === 'string') : [];
    const host = typeof upstream.url === 'string' && URL.canParse(upstream.url) ? [new URL(upstream.url).host] : [];
    for (const alias of [name, ...aliases, ...host]) {
      const previous = owner.get(alias.toLowerCase());
      if (previous !== undefined && previous !== name) {
        problems.push(`upstreams.${name}.aliases: "${alias}" routes to both "${previous}" and "${name}"`);
      }
      owner.set(alias.toLowerCase(), name);
    }
  }
  problems.push(...pinnedImageProblems(config.prefetch, new Set(owner.keys())));
  return problems;
}

/** Validates a config object; relative storage paths resolve against `baseDir`. */
export function parseConfig(raw: unknown, source = 'config', baseDir = process.cwd()): Config {
  const result = schema.safeParse(raw);
  const problems = [...(result.success ? [] : result.error.issues.flatMap(describeIssue)), ...crossKeyProblems(raw)];
  if (result.success && result.data.limits.headersTimeout > result.data.limits.requestTimeout) {
    // Node refuses to start a server whose head may take longer than the whole request.
    problems.push('limits.headersTimeout: must not be longer than limits.requestTimeout');
  }
  if (result.success && result.data.serve.offload && result.data.storage.s3) {
    // nginx sends files from storage.path; kept blobs in a bucket go out by storage.s3.redirect instead.
    problems.push('serve.offload: only for blobs kept under storage.path; with storage.s3 use storage.s3.redirect');
  }
  if (!result.success || problems.length > 0) throw new ConfigError(source, problems);
  const parsed = result.data;
  const upstreams: Record<string, UpstreamConfig> = {};
  for (const [name, value] of Object.entries(parsed.upstreams)) {
    upstreams[name] = {
      ...value,
      name,
      // Docker Hub's official images live under library/: without it cache.local/dockerhub/ubuntu is a 404.
      ...(value.defaultNamespace === undefined && isDockerHub(name, value) && { defaultNamespace: 'library' }),
      tokenHosts: value.tokenHosts ?? defaultTokenHosts(value.url),
      ...(value.ca !== undefined && { ca: path.resolve(baseDir, value.ca) }),
    };
  }
  return deepFreeze({
    ...parsed,
    defaultUpstream: parsed.defaultUpstream ?? (resolveDefaultUpstream(parsed.upstreams) as string),
    storage: { ...parsed.storage, path: path.resolve(baseDir, parsed.storage.path) },
    ...(parsed.tls && { tls: { ...parsed.tls, cert: path.resolve(baseDir, parsed.tls.cert), key: path.resolve(baseDir, parsed.tls.key) } }),
    ...(parsed.auth && { auth: { ...parsed.auth, htpasswd: path.resolve(baseDir, parsed.auth.htpasswd) } }),
    upstreams,
  });
}

/** One line per problem; an unknown key names the known key it most likely meant. */
function describeIssue(issue: z.ZodIssue): string[] {
  const where = issue.path.length ? issue.path.join('.') : '(root)';
  if (issue.code !== z.ZodIssueCode.unrecognized_keys) return [`${where}: ${issue.message}`];
  const known = knownKeysAt(issue.path);
  return issue.keys.map((key) => {
    const guess = closestKey(key, known);
    const at = issue.path.length ? `${issue.path.join('.')}.${key}` : key;
    return `${at}: unknown key${guess ? ` (did you mean "${guess}"?)` : known.length ? ` (known here: ${known.join(', ')})` : ''}`;
  });
}

/** The keys the schema allows at a path of the input (record keys such as upstream names are skipped). */
function knownKeysAt(at: ReadonlyArray<string | number>): string[] {
  let node: z.ZodTypeAny = schema;
  const unwrap = (type: z.ZodTypeAny): z.ZodTypeAny => {
    let current = type;
    for (;;) {
      if (current instanceof z.ZodEffects) current = current.innerType();
      else if (current instanceof z.ZodDefault) current = current._def.innerType;
      else if (current instanceof z.ZodOptional) current = current.unwrap();
      else return current;
    }
  };
  for (const segment of at) {
    node = unwrap(node);
    if (node instanceof z.ZodObject) node = (node.shape as Record<string, z.ZodTypeAny>)[String(segment)] ?? z.never();
    else if (node instanceof z.ZodRecord) node = node.valueSchema;
    else return [];
  }
  node = unwrap(node);
  return node instanceof z.ZodObject ? Object.keys(node.shape) : [];
}

/** A known key within a small edit distance (case ignored): `maxsize` → `maxSize`, `tagTTL` → `tagTtl`. */
function closestKey(key: string, known: readonly string[]): string | undefined {
  let best: { key: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (distance <= Math.max(1, Math.floor(candidate.length / 4)) && (!best || distance < best.distance)) best = { key: candidate, distance };
  }
  return best?.key;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length] as number;
}

/** Reads the YAML file, applies environment overrides, validates. */
export function loadConfig(file: string = DEFAULT_CONFIG_PATH, env: NodeJS.ProcessEnv = process.env): Config {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(file, 'utf8')) ?? {};
  } catch (error) {
    throw new ConfigError(file, [(error as Error).message]);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(file, ['(root): expected a mapping']);
  const withEnv = { ...(raw as Record<string, unknown>) };
  const fromEnv = new Map<string, string>();
  for (const [variable, key, apply] of ENV_OVERRIDES) {
    const value = env[variable];
    if (value !== undefined && value !== '') {
      apply(withEnv, value);
      fromEnv.set(key, variable);
    }
  }
  try {
    return parseConfig(withEnv, file, process.cwd());
  } catch (error) {
    if (!(error instanceof ConfigError) || fromEnv.size === 0) throw error;
    // A wrong value that came from the environment is not the file's fault: say which variable set it.
    const blamed = error.problems.map((problem) => {
      const key = problem.slice(0, problem.indexOf(':'));
      const variable = fromEnv.get(key);
      return variable ? `${variable} (environment, sets ${problem})` : problem;
    });
    throw new ConfigError(file, blamed);
  }
}

const DOCKER_HUB_HOSTS = new Set(['registry-1.docker.io', 'index.docker.io', 'docker.io']);

/** Docker Hub's registry hands out tokens from auth.docker.io: trusted by default for a Docker Hub URL only. */
function defaultTokenHosts(url: string): string[] {
  return DOCKER_HUB_HOSTS.has(new URL(url).hostname) ? ['auth.docker.io'] : [];
}

/** Whether an upstream is Docker Hub, by its URL or by an alias that names Docker Hub. */
function isDockerHub(name: string, upstream: { url?: unknown; aliases?: unknown }): boolean {
  const url = typeof upstream.url === 'string' && URL.canParse(upstream.url) ? new URL(upstream.url).hostname : '';
  const aliases = Array.isArray(upstream.aliases) ? upstream.aliases : [];
  return DOCKER_HUB_HOSTS.has(url) || aliases.some((alias) => typeof alias === 'string' && DOCKER_HUB_HOSTS.has(alias.toLowerCase())) || name === 'dockerhub';
}

/**
 * The upstream for requests that name none, when the config does not say: the only one, else the Docker Hub
 * one (daemon.json registry-mirrors sends Docker Hub requests with no prefix), else none (a config problem).
 */
function resolveDefaultUpstream(upstreams: Record<string, unknown>): string | undefined {
  const names = Object.keys(upstreams);
  if (names.length === 1) return names[0];
  const hubs = names.filter((name) => isDockerHub(name, asObject(upstreams[name])));
  return hubs.length === 1 ? hubs[0] : undefined;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

// A small registry server for integration tests: serves manifests and blobs from memory on 127.0.0.1,
// speaks Docker-Hub-style Bearer token auth when asked, can redirect blobs to a second "CDN" origin, and
// counts every request it receives so tests can assert how often the mirror went upstream.

import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  kind: 'ping' | 'manifest' | 'blob' | 'tags' | 'referrers' | 'token' | 'cdn' | 'other';
  authorization: string | undefined;
}

export interface MemoryRegistryOptions {
  /** Require Bearer tokens from the built-in token endpoint (Docker Hub style). */
  tokenAuth?: boolean;
  /** Credentials the token endpoint requires (Basic); absent = anonymous tokens. */
  tokenCredentials?: { username: string; password: string };
  /** Redirect blob GETs (307) to a second server, as Docker Hub does to its CDN. */
  redirectBlobs?: boolean;
  /** Answer 401 (not 404) for unknown repositories, as Docker Hub does. */
  unauthorizedForUnknown?: boolean;
  /**
   * Send Docker Hub's rate-limit headers (read on every response, so a test may change the numbers).
   * With `windowMs` the registry keeps the count itself, as Docker Hub does: per credential (the account
   * a token or Basic header names, else "anonymous"), each manifest GET takes one pull, HEAD and blobs
   * none; at zero a manifest GET is answered 429 TOOMANYREQUESTS; a credential's first window starts at
   * its first request with `remaining` pulls, and every window after it with `limit`. `w=` is the window
   * in whole seconds, rounded up.
   */
  rateLimit?: { limit: number; remaining: number; windowMs?: number };
  /** Require these credentials with HTTP Basic auth (challenge `Basic realm=...`) on every /v2/ request. */
  basicAuth?: { username: string; password: string };
  /** Honour `n` and `last` on tags/list and send a `Link: <...>; rel="next"` header, as distribution does. */
  paginateTags?: boolean;
  /**
   * The referrers API as registries differ (OCI distribution-spec 1.1): `etag` sends an ETag and answers
   * If-None-Match with 304; `filter: false` ignores artifactType (the spec allows it); `supported: false`
   * answers 404 for every subject, as registries without the API (distribution 2.8) do.
   */
  referrersApi?: { etag?: boolean; filter?: boolean; supported?: boolean };
}

/** A descriptor in a referrers answer (OCI image index). */
export interface ReferrerDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
}

export interface StoredManifest {
  digest: string;
  mediaType: string;
  bytes: Buffer;
}

export class MemoryRegistry {
  readonly requests: RecordedRequest[] = [];
  readonly blobs = new Map<string, Buffer>();
  readonly manifests = new Map<string, StoredManifest>();
  /** repository -> tag -> digest */
  readonly tags = new Map<string, Map<string, string>>();
  /** repository -> subject digest -> descriptors of the manifests that refer to it */
  readonly referrers = new Map<string, Map<string, ReferrerDescriptor[]>>();
  /** Override the answer to matching requests (status code), e.g. to simulate 5xx or 429. */
  failWith: { status: number; headers?: Record<string, string>; kinds?: RecordedRequest['kind'][] } | undefined;
  /** Bytes per chunk and delay between chunks for blob bodies (slow upstream). */
  trickle: { chunk: number; delayMs: number } | undefined;
  /** Serve these bytes instead of the real blob content (corrupt upstream). */
  corruptBlobs = false;
  private readonly options: MemoryRegistryOptions;
  private server: http.Server | undefined;
  private cdn: http.Server | undefined;
  private port = 0;
  private cdnPort = 0;
  private readonly issuedTokens = new Set<string>();
  /** Token -> the account it was issued to ("anonymous" without credentials). */
  private readonly tokenAccounts = new Map<string, string>();
  /** Per credential: when its current window started and the pulls left in it (counting mode). */
  private readonly quotas = new Map<string, { windowStart: number; remaining: number }>();

  constructor(options: MemoryRegistryOptions = {}) {
    this.options = options;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.port = await listen(this.server, this.port);
    if (this.options.redirectBlobs) {
      this.cdn = http.createServer((req, res) => this.handleCdn(req, res));
      this.cdnPort = await listen(this.cdn, this.cdnPort);
    }
    return this;
  }

  /** Stops listening (the mirror then sees the upstream as down); start() again reuses the port. */
  async stop(): Promise<void> {
    for (const server of [this.server, this.cdn]) {
      if (!server) continue;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    this.server = undefined;
    this.cdn = undefined;
  }

  count(filter: { method?: string; kind?: RecordedRequest['kind'] } = {}): number {
    return this.requests.filter((r) => (!filter.method || r.method === filter.method) && (!filter.kind || r.kind === filter.kind)).length;
  }

  resetCounts(): void {
    this.requests.length = 0;
  }

  /** Pulls left for a credential in its current window (counting mode); undefined before its first request. */
  pullsLeft(credential = 'anonymous'): number | undefined {
    return this.quotaOf(credential)?.remaining;
  }

  /** Forgets every token issued so far, as a token service does when it rotates its signing key. */
  revokeTokens(): void {
    this.issuedTokens.clear();
  }

  addBlob(bytes: Buffer): string {
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    this.blobs.set(digest, bytes);
    return digest;
  }

  addRandomBlob(size: number): { digest: string; bytes: Buffer } {
    const bytes = randomBytes(size);
    return { digest: this.addBlob(bytes), bytes };
  }

  /** Adds an image manifest (with a config and one layer) under repository:tag; returns its digest. */
  addImage(repository: string, tag: string, layerSize = 1024): { digest: string; manifest: StoredManifest; layer: string; config: string } {
    const config = this.addBlob(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', tag, n: randomBytes(4).toString('hex') })));
    const layer = this.addRandomBlob(layerSize).digest;
    const mediaType = 'application/vnd.docker.distribution.manifest.v2+json';
    const body = {
      schemaVersion: 2,
      mediaType,
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: this.blobs.get(config)?.length, digest: config },
      layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: layerSize, digest: layer }],
    };
    // Indented on purpose: the mirror must serve these exact bytes, not a re-serialisation.
    const manifest = this.putManifest(repository, tag, mediaType, Buffer.from(JSON.stringify(body, null, 3)));
    return { digest: manifest.digest, manifest, layer, config };
  }

  putManifest(repository: string, tag: string | undefined, mediaType: string, bytes: Buffer): StoredManifest {
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    const manifest = { digest, mediaType, bytes };
    this.manifests.set(digest, manifest);
    if (!this.tags.has(repository)) this.tags.set(repository, new Map());
    if (tag) this.tags.get(repository)?.set(tag, digest);
    return manifest;
  }

  /** Records `descriptor` as a referrer of `subject` in `repository` (the referrers API answers it). */
  addReferrer(repository: string, subject: string, descriptor: ReferrerDescriptor): void {
    if (!this.tags.has(repository)) this.tags.set(repository, new Map());
    let bySubject = this.referrers.get(repository);
    if (!bySubject) {
      bySubject = new Map();
      this.referrers.set(repository, bySubject);
    }
    bySubject.set(subject, [...(bySubject.get(subject) ?? []), descriptor]);
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', this.url);
    const kind = kindOf(url.pathname);
    this.requests.push({ method: req.method ?? '', path: url.pathname + url.search, kind, authorization: req.headers.authorization });
    if (kind === 'token') return this.issueToken(req, url, res);
    if (this.options.rateLimit?.windowMs !== undefined) {
      this.countPull(req, res, false);
    } else if (this.options.rateLimit) {
      res.setHeader('ratelimit-limit', `${this.options.rateLimit.limit};w=21600`);
      res.setHeader('ratelimit-remaining', `${this.options.rateLimit.remaining};w=21600`);
    }
    if (this.failWith && (!this.failWith.kinds || this.failWith.kinds.includes(kind))) {
      res.writeHead(this.failWith.status, this.failWith.headers ?? {}).end();
      return;
    }
    const basic = this.options.basicAuth;
    if (basic && req.headers.authorization !== basicHeader(basic.username, basic.password)) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="memory-registry"', 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
      return;
    }
    if (this.options.tokenAuth && !this.authorized(req)) {
      const scope = /^\/v2\/(.+)\/(manifests|blobs|tags|referrers)\//.exec(url.pathname);
      // A token it no longer knows (revoked, or signed by a rotated key) is refused the way distribution
      // refuses it: as lacking the scope.
      const presented = (req.headers.authorization ?? '').startsWith('Bearer ');
      res.writeHead(401, {
        'www-authenticate': `Bearer realm="${this.url}/token",service="memory-registry"${scope ? `,scope="repository:${scope[1]}:pull"` : ''}${presented ? ',error="insufficient_scope"' : ''}`,
        'content-type': 'application/json',
      });
      res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
      return;
    }
    if (url.pathname === '/v2/') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      return;
    }
    const match = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(url.pathname);
    const tagsMatch = /^\/v2\/(.+)\/tags\/list$/.exec(url.pathname);
    if (tagsMatch) {
      const tags = [...(this.tags.get(tagsMatch[1] as string)?.keys() ?? [])].sort();
      if (!this.tags.has(tagsMatch[1] as string)) return this.notFound(res, 'NAME_UNKNOWN');
      if (this.options.paginateTags) return this.sendTagsPage(res, url, tagsMatch[1] as string, tags);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ name: tagsMatch[1], tags }));
      return;
    }
    const referrersMatch = /^\/v2\/(.+)\/referrers\/([^/]+)$/.exec(url.pathname);
    if (referrersMatch) return this.sendReferrers(req, res, url, referrersMatch[1] as string, referrersMatch[2] as string);
    if (!match) return this.notFound(res, 'NAME_UNKNOWN');
    const [, repository, what, reference] = match as unknown as [string, string, string, string];
    if (!this.tags.has(repository)) {
      if (this.options.unauthorizedForUnknown) {
        // Docker Hub's exact shape: a valid token, yet a challenge naming the scope it "lacks".
        res.writeHead(401, {
          'content-type': 'application/json',
          'www-authenticate': `Bearer realm="${this.url}/token",service="memory-registry",scope="repository:${repository}:pull",error="insufficient_scope"`,
        });
        res.end('{"errors":[{"code":"UNAUTHORIZED"}]}');
        return;
      }
      return this.notFound(res, 'NAME_UNKNOWN');
    }
    if (what === 'manifests') {
      const digest = reference.startsWith('sha256:') ? reference : this.tags.get(repository)?.get(reference);
      const manifest = digest ? this.manifests.get(digest) : undefined;
      if (!manifest) return this.notFound(res, 'MANIFEST_UNKNOWN');
      // A pull is a manifest GET that would be served (Docker Hub counts neither HEAD nor errors).
      if (this.options.rateLimit?.windowMs !== undefined && req.method === 'GET' && this.countPull(req, res, true)) return;
      res.writeHead(200, {
        'content-type': manifest.mediaType,
        'content-length': manifest.bytes.length,
        'docker-content-digest': manifest.digest,
      });
      res.end(req.method === 'HEAD' ? undefined : manifest.bytes);
      return;
    }
    const blob = this.blobs.get(reference);
    if (!blob) return this.notFound(res, 'BLOB_UNKNOWN');
    if (this.options.redirectBlobs && req.method === 'GET') {
      res.writeHead(307, { location: `http://127.0.0.1:${this.cdnPort}/cdn/${reference}?sig=abc` }).end();
      return;
    }
    this.sendBlob(req, res, reference, blob);
  }

  /** One page of tags after `last`, at most `n` long, with a Link to the next page (distribution's format). */
  private sendTagsPage(res: http.ServerResponse, url: URL, repository: string, tags: string[]): void {
    const last = url.searchParams.get('last');
    const n = Number(url.searchParams.get('n') ?? tags.length);
    const after = last === null ? tags : tags.filter((tag) => tag > last);
    const page = after.slice(0, n);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (page.length > 0 && page.length < after.length) {
      const next = new URLSearchParams({ n: String(n), last: page[page.length - 1] as string });
      headers.link = `</v2/${repository}/tags/list?${next.toString()}>; rel="next"`;
    }
    res.writeHead(200, headers).end(JSON.stringify({ name: repository, tags: page }));
  }

  /** The OCI referrers API: an image index of the manifests that name `subject`, filtered by artifactType. */
  private sendReferrers(req: http.IncomingMessage, res: http.ServerResponse, url: URL, repository: string, subject: string): void {
    const api = this.options.referrersApi ?? {};
    if (!this.tags.has(repository) || api.supported === false) return this.notFound(res, 'NAME_UNKNOWN');
    const filter = api.filter !== false ? url.searchParams.get('artifactType') : null;
    const all = this.referrers.get(repository)?.get(subject) ?? [];
    const manifests = filter === null ? all : all.filter((d) => d.artifactType === filter);
    const headers: Record<string, string> = { 'content-type': 'application/vnd.oci.image.index.v1+json' };
    if (filter !== null) headers['oci-filters-applied'] = 'artifactType';
    const body = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests });
    if (api.etag) {
      const etag = `"${createHash('sha256').update(body).digest('hex')}"`;
      headers.etag = etag;
      if (req.headers['if-none-match'] === etag) return void res.writeHead(304, headers).end();
    }
    res.writeHead(200, headers).end(body);
  }

  private handleCdn(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${this.cdnPort}`);
    this.requests.push({ method: req.method ?? '', path: url.pathname + url.search, kind: 'cdn', authorization: req.headers.authorization });
    const digest = url.pathname.replace('/cdn/', '');
    const blob = this.blobs.get(digest);
    if (!blob) return this.notFound(res, 'BLOB_UNKNOWN');
    this.sendBlob(req, res, digest, blob);
  }

  private sendBlob(req: http.IncomingMessage, res: http.ServerResponse, digest: string, blob: Buffer): void {
    const body = this.corruptBlobs ? Buffer.from(blob.map((byte) => byte ^ 0xff)) : blob;
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length, 'docker-content-digest': digest });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const trickle = this.trickle;
    if (!trickle) {
      res.end(body);
      return;
    }
    let offset = 0;
    const next = (): void => {
      if (res.destroyed) return;
      if (offset >= body.length) {
        res.end();
        return;
      }
      res.write(body.subarray(offset, offset + trickle.chunk));
      offset += trickle.chunk;
      setTimeout(next, trickle.delayMs);
    };
    next();
  }

  private issueToken(req: http.IncomingMessage, url: URL, res: http.ServerResponse): void {
    const wanted = this.options.tokenCredentials;
    if (wanted) {
      const expected = `Basic ${Buffer.from(`${wanted.username}:${wanted.password}`).toString('base64')}`;
      if (req.headers.authorization !== expected) {
        res.writeHead(401).end();
        return;
      }
    }
    const token = `t-${randomBytes(8).toString('hex')}-${url.searchParams.get('scope') ?? ''}`;
    this.issuedTokens.add(token);
    this.tokenAccounts.set(token, wanted?.username ?? 'anonymous');
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() }));
  }

  /**
   * Counting mode of `rateLimit`: sets the headers for the request's credential and, for a manifest GET
   * about to be served (`take`), takes a pull; true when the request was answered (429) here instead.
   */
  private countPull(req: http.IncomingMessage, res: http.ServerResponse, take: boolean): boolean {
    const options = this.options.rateLimit as { limit: number; remaining: number; windowMs: number };
    const credential = this.credentialOf(req);
    let quota = this.quotaOf(credential);
    if (!quota) {
      quota = { windowStart: Date.now(), remaining: options.remaining };
      this.quotas.set(credential, quota);
    }
    const refused = take && quota.remaining <= 0;
    if (take && !refused) quota.remaining -= 1;
    const w = Math.ceil(options.windowMs / 1000);
    res.setHeader('ratelimit-limit', `${options.limit};w=${w}`);
    res.setHeader('ratelimit-remaining', `${quota.remaining};w=${w}`);
    if (!refused) return false;
    res.writeHead(429, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ errors: [{ code: 'TOOMANYREQUESTS', message: 'You have reached your pull rate limit.' }] }));
    return true;
  }

  /** The credential's quota, rolled over to a fresh window when the last one has ended. */
  private quotaOf(credential: string): { windowStart: number; remaining: number } | undefined {
    const options = this.options.rateLimit;
    const quota = this.quotas.get(credential);
    if (!quota || options?.windowMs === undefined) return quota;
    const windows = Math.floor((Date.now() - quota.windowStart) / options.windowMs);
    if (windows > 0) {
      quota.windowStart += windows * options.windowMs;
      quota.remaining = options.limit;
    }
    return quota;
  }

  private credentialOf(req: http.IncomingMessage): string {
    const header = req.headers.authorization ?? '';
    if (header.startsWith('Bearer ')) return this.tokenAccounts.get(header.slice('Bearer '.length)) ?? 'anonymous';
    if (header.startsWith('Basic ')) return Buffer.from(header.slice('Basic '.length), 'base64').toString('utf8').split(':')[0] ?? 'anonymous';
    return 'anonymous';
  }

  private authorized(req: http.IncomingMessage): boolean {
    const header = req.headers.authorization ?? '';
    return header.startsWith('Bearer ') && this.issuedTokens.has(header.slice('Bearer '.length));
  }

  private notFound(res: http.ServerResponse, code: string): void {
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ code, message: 'not found' }] }));
  }
}

function basicHeader(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

function kindOf(pathname: string): RecordedRequest['kind'] {
  if (pathname === '/token') return 'token';
  if (pathname === '/v2/' || pathname === '/v2') return 'ping';
  if (pathname.includes('/manifests/')) return 'manifest';
  if (pathname.includes('/blobs/')) return 'blob';
  if (pathname.endsWith('/tags/list')) return 'tags';
  if (pathname.includes('/referrers/')) return 'referrers';
  return 'other';
}

function listen(server: http.Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

// One client per configured upstream: speaks the registry's auth (anonymous or credentialed Bearer token
// flow, or Basic), follows redirects server-side (Docker Hub sends blobs to a CDN with 307; registry.k8s.io
// redirects manifests too) without carrying Authorization to another host, reads the rate-limit headers,
// and bounds every transfer by connect and idle time-outs.
// What the upstream says is a claim (issue 9): token realms only on its own host or its tokenHosts
// (token-realm-policy.ts), redirects and realms never to internal addresses (address-policy.ts), token
// bodies size-capped, and a challenge only counts when the upstream itself sent it.

import type { Readable } from 'node:stream';
import { Agent, buildConnector, type Dispatcher, request } from 'undici';
import { RING_SLOTS } from '../storage/receive-ring.ts';
import type { Logger } from '../logger.ts';
import type { UpstreamConfig } from '../config.ts';
import { RegistryError } from '../errors.ts';
import { AddressPolicy } from './address-policy.ts';
import { type AuthChallenge, parseAuthChallenge } from './auth-challenge.ts';
import { readAtMost } from './bounded-body.ts';
import { basicAuthorization, readCredentials } from './credentials.ts';
import { firstHeader, type RateLimitView, readRateLimit } from './rate-limit.ts';
import { credentialOf, type QuotaView } from './quota-view.ts';
import { type SharedTokenStore, TokenCache } from './token-cache.ts';
import type { RingBody } from './ring-body.ts';
import { RingTransport } from './ring-transport.ts';
import { realmRefusal } from './token-realm-policy.ts';
import { upstreamCa } from './upstream-ca.ts';

/** An upstream's final answer (after auth and redirects), with its body in the form its transport gives. */
export interface UpstreamAnswer<Body> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Body;
  /** The URL that finally answered (after redirects). */
  url: string;
}

export type UpstreamResponse = UpstreamAnswer<Readable & { dump(): Promise<void> }>;

/** One hop: a request to `url` with `headers`, answered with status, headers and a body that can be dropped. */
type Hop<Body> = (url: URL, headers: Record<string, string>) => Promise<{ statusCode: number; headers: Record<string, string | string[] | undefined>; body: Body }>;

export interface UpstreamRequest {
  method: 'GET' | 'HEAD';
  /** Path below the upstream's base URL, e.g. /v2/library/ubuntu/manifests/latest (with query if any). */
  path: string;
  /** Repository the request is about; decides the token scope. */
  repository?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export interface RegistryClientOptions {
  connectTimeoutMs: number;
  idleTimeoutMs: number;
  /** Floor rate of blob downloads (upstreamTimeouts.minRate; 0: none). */
  minBytesPerSecond?: number;
  logger: Logger;
  /** Tokens shared with other replicas (per upstream), when there are replicas. */
  sharedTokens?: SharedTokenStore;
  /** Called for every response the upstream (or its redirect target) sends, for counting. */
  onResponse?: (event: { upstream: string; method: string; status: number; kind: string }) => void;
  /**
   * The pull quota view shared by replicas (issue 15): fed with every answer's ratelimit-* figures and
   * 429s; while a 429 holds, nothing is sent to the upstream.
   */
  quota?: QuotaView;
}

const MAX_REDIRECTS = 5;
const DEFAULT_TOKEN_LIFETIME_S = 60;
/** A token answer is a few kilobytes (a JWT); more is not a token (issue 9: a 300 MB one took 900 MiB). */
export const MAX_TOKEN_RESPONSE_BYTES = 64 * 1024;
/** Connections of the pool for everything but blob downloads, per upstream. */
const POOL_CONNECTIONS = 64;

/** Refused token realms remembered (to log each once) per upstream. */
const MAX_LOGGED_REALMS = 64;

export class RegistryClient {
  readonly upstream: UpstreamConfig;
  /**
   * Manifests, tokens, pings, listings and blob HEADs. Blob downloads have a transport of their own
   * (`blobTransport`): a download holds its connection for minutes, and a manifest must never queue behind
   * them (issue 9: one waited 19.5 s behind 120 blob fills sharing one 64-connection pool); and it reads
   * straight into the download's ring of reused buffers (issue 11: no allocation per socket read).
   */
  private readonly agent: Agent;
  private readonly blobTransport: RingTransport;
  private readonly addresses: AddressPolicy;
  private readonly origin: string;
  /** Realms already reported as refused, so a hostile upstream's every request does not log again. */
  private readonly refusedRealms = new Set<string>();
  private readonly tokens: TokenCache;
  private readonly log: Logger;
  private readonly options: RegistryClientOptions;
  /**
   * The auth scheme the upstream asked for last, so later requests authenticate up front; null once a
   * ping showed it needs none; undefined until known.
   */
  private challenge: AuthChallenge | null | undefined;
  private lastRateLimit: RateLimitView | undefined;

  constructor(upstream: UpstreamConfig, options: RegistryClientOptions) {
    this.upstream = upstream;
    this.options = options;
    this.tokens = new TokenCache(options.sharedTokens);
    this.log = options.logger.child({ upstream: upstream.name });
    this.origin = new URL(upstream.url).origin;
    this.addresses = new AddressPolicy(upstream);
    const ca = upstreamCa(upstream);
    this.agent = new Agent({
      connect: this.guardedConnector(buildConnector({ timeout: options.connectTimeoutMs, lookup: this.addresses.lookup, ...(ca && { ca }) })),
      headersTimeout: options.idleTimeoutMs,
      bodyTimeout: options.idleTimeoutMs,
      keepAliveTimeout: 30_000,
      connections: POOL_CONNECTIONS,
    });
    this.blobTransport = new RingTransport({
      connectTimeoutMs: options.connectTimeoutMs,
      idleTimeoutMs: options.idleTimeoutMs,
      minBytesPerSecond: options.minBytesPerSecond ?? 0,
      lookup: this.addresses.lookup,
      refusal: (hostname) => this.addresses.refusal(hostname),
      ...(ca && { ca }),
      ringSlots: RING_SLOTS,
    });
  }

  /** The pool for requests that are not blob transfers (the listings passthrough uses it too). */
  get listingDispatcher(): Dispatcher {
    return this.agent;
  }

  get rateLimit(): RateLimitView | undefined {
    return this.lastRateLimit;
  }

  /** The credential this client's requests count against in the upstream's quota. */
  get credential(): string {
    return credentialOf(this.upstream);
  }

  /**
   * Sends a request, authenticating as the upstream demands (one retry after a 401 challenge).
   * Resolves with whatever status the upstream finally answers; rejects only when it cannot be reached.
   */
  async send(req: UpstreamRequest): Promise<UpstreamResponse> {
    return this.sendBy(req, this.undiciHop(req));
  }

  /**
   * A blob download (GET), like send() in every other respect; its body is read into a ring of reused
   * buffers (ring-transport.ts), and its consumer releases each piece's slot when done with it.
   */
  async getBlob(req: Omit<UpstreamRequest, 'method'>): Promise<UpstreamAnswer<RingBody>> {
    return this.sendBy({ ...req, method: 'GET' }, (url, headers) => this.blobTransport.get(url, headers, req.signal));
  }

  private async sendBy<Body extends { dump(): Promise<void> }>(req: UpstreamRequest, hop: Hop<Body>): Promise<UpstreamAnswer<Body>> {
    await this.refuseWhileLimited();
    const scope = req.repository ? `repository:${req.repository}:pull` : undefined;
    let authorization = await this.authorizationFor(scope, false);
    let response = await this.follow(req, authorization.header, hop);
    // At most two retries: a first challenge may be answered with a token another replica shared, which
    // the upstream may refuse (revoked, rotated key); then one more with a token of our own.
    for (let retry = 0; response.status === 401 && retry < 2; retry++) {
      // A 401 from a redirect target (a CDN, or wherever a hostile upstream pointed) is not the upstream's
      // challenge: answering it would send the upstream's credentials there (issue 9).
      if (new URL(response.url).origin !== this.origin) break;
      const challenge = parseAuthChallenge(firstHeader(response.headers['www-authenticate']));
      if (!challenge) break;
      // A token this process got itself that is still refused "insufficient_scope" will not gain the scope
      // by asking again: Docker Hub answers so for a repository that does not exist.
      if (authorization.own && challenge.scheme === 'bearer' && challenge.error === 'insufficient_scope') break;
      this.challenge = challenge;
      // Fresh credentials only if the ones we sent were refused; a first challenge may be answered from
      // a token already cached (by us or another replica).
      const refused = authorization.header !== undefined;
      let next;
      try {
        next = await this.authorizationFor(scope ?? (challenge.scheme === 'bearer' ? challenge.scope : undefined), refused);
      } catch (error) {
        // The 401's body is not read by anyone: let its connection go (the refusal is what to report).
        await response.body.dump().catch(() => undefined);
        throw error;
      }
      // No credentials to offer for a Basic challenge: the 401 is the answer.
      if (next.header === undefined) break;
      await response.body.dump();
      authorization = next;
      response = await this.follow(req, authorization.header, hop);
    }
    return response;
  }

  /** The Authorization header value for a repository, for requests passed through verbatim. */
  async authorizationHeader(repository: string): Promise<string | undefined> {
    if (this.challenge === undefined) {
      // Learn the upstream's scheme from its /v2/ ping, the way docker clients do.
      const pingRequest: UpstreamRequest = { method: 'GET', path: '/v2/' };
      const ping = await this.follow(pingRequest, undefined, this.undiciHop(pingRequest));
      await ping.body.dump();
      if (new URL(ping.url).origin !== this.origin) this.challenge = null;
      else if (ping.status === 401) this.challenge = parseAuthChallenge(firstHeader(ping.headers['www-authenticate'])) ?? null;
      else if (ping.status < 500) this.challenge = null;
    }
    return (await this.authorizationFor(`repository:${repository}:pull`, false)).header;
  }

  async close(): Promise<void> {
    this.blobTransport.close();
    await this.agent.close();
  }

  /**
   * Issue 15: after a 429 (seen by this process or a replica) nothing goes to the upstream until its
   * Retry-After or the window's estimated reset: asking again would only spend more of a spent limit.
   */
  private async refuseWhileLimited(): Promise<void> {
    const until = await this.options.quota?.limitedUntil(this.upstream.name, this.credential);
    if (until === undefined) return;
    throw new RegistryError('TOOMANYREQUESTS', `upstream ${this.upstream.name} rate limit reached; waiting for its window to reset`, {
      headers: { 'retry-after': String(Math.max(1, Math.ceil((until - Date.now()) / 1000))) },
      detail: { upstream: this.upstream.name, reason: 'limited', resumesAt: new Date(until).toISOString() },
    });
  }

  /** The Authorization header to send; `own`: a token this process got from the token service itself. */
  private async authorizationFor(scope: string | undefined, refresh: boolean): Promise<{ header: string | undefined; own: boolean }> {
    const challenge = this.challenge;
    if (!challenge) return { header: undefined, own: false };
    const credentials = readCredentials(this.upstream);
    if (challenge.scheme === 'basic') return { header: credentials ? basicAuthorization(credentials) : undefined, own: false };
    const refusal = realmRefusal(this.upstream, challenge.realm);
    if (refusal !== undefined) {
      // Logged once per realm, for a bounded number of realms: a hostile upstream naming a new realm on
      // every answer must not grow this set without end.
      if (!this.refusedRealms.has(challenge.realm) && this.refusedRealms.size < MAX_LOGGED_REALMS) {
        this.refusedRealms.add(challenge.realm);
        this.log.warn({ realm: challenge.realm, reason: refusal }, 'upstream token realm refused');
      }
      throw new RegistryError('UNAVAILABLE', 'upstream names a token service the mirror does not trust');
    }
    const tokenScope = scope ?? challenge.scope ?? '';
    // Tokens are only good at the service that issued them: the realm and service are part of the key.
    const cacheKey = `${challenge.realm} ${challenge.service ?? ''} ${tokenScope}`;
    const token = await this.tokens.obtain(cacheKey, () => this.fetchToken(challenge, tokenScope), { refresh });
    return { header: `Bearer ${token}`, own: !this.tokens.isShared(cacheKey) };
  }

  private async fetchToken(challenge: AuthChallenge & { scheme: 'bearer' }, scope: string): Promise<{ token: string; expiresAt: number }> {
    const url = new URL(challenge.realm);
    if (challenge.service) url.searchParams.set('service', challenge.service);
    if (scope) url.searchParams.set('scope', scope);
    const credentials = readCredentials(this.upstream);
    const headers: Record<string, string> = { 'user-agent': USER_AGENT };
    if (credentials) headers.authorization = basicAuthorization(credentials);
    let response;
    try {
      response = await request(url, { method: 'GET', headers, dispatcher: this.agent });
    } catch (error) {
      throw new RegistryError('UNAVAILABLE', 'upstream token service unreachable', { cause: error });
    }
    this.options.onResponse?.({ upstream: this.upstream.name, method: 'GET', status: response.statusCode, kind: 'token' });
    if (response.statusCode !== 200) {
      await response.body.dump();
      this.log.warn({ status: response.statusCode, scope }, 'upstream token request refused');
      throw new RegistryError(response.statusCode === 401 || response.statusCode === 403 ? 'UNAUTHORIZED' : 'UNAVAILABLE',
        'upstream refused to issue a token');
    }
    const declared = Number(firstHeader(response.headers['content-length']));
    const bytes = declared > MAX_TOKEN_RESPONSE_BYTES ? undefined : await readAtMost(response.body, MAX_TOKEN_RESPONSE_BYTES);
    if (!bytes) {
      response.body.destroy();
      this.log.warn({ limit: MAX_TOKEN_RESPONSE_BYTES }, 'upstream token response too large');
      throw new RegistryError('UNAVAILABLE', 'upstream token response too large');
    }
    const body = parseTokenBody(bytes);
    if (!body) throw new RegistryError('UNAVAILABLE', 'upstream token response is not a JSON object');
    const token = typeof body.token === 'string' ? body.token : typeof body.access_token === 'string' ? body.access_token : undefined;
    if (!token) throw new RegistryError('UNAVAILABLE', 'upstream token response has no token');
    const lifetime = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : DEFAULT_TOKEN_LIFETIME_S;
    const issuedAt = typeof body.issued_at === 'string' ? Date.parse(body.issued_at) : NaN;
    const start = Number.isFinite(issuedAt) && issuedAt <= Date.now() ? issuedAt : Date.now();
    return { token, expiresAt: start + lifetime * 1000 };
  }

  /**
   * One request, following redirects; Authorization goes only to the upstream's own origin, and a redirect
   * never to an internal address of a host the operator did not configure (issue 9).
   */
  private async follow<Body extends { dump(): Promise<void> }>(req: UpstreamRequest, authorization: string | undefined, send: Hop<Body>): Promise<UpstreamAnswer<Body>> {
    const origin = this.origin;
    let url = new URL(this.upstream.url + req.path);
    for (let hop = 0; ; hop++) {
      const headers: Record<string, string> = { 'user-agent': USER_AGENT, ...req.headers };
      if (authorization && url.origin === origin) headers.authorization = authorization;
      let response;
      try {
        response = await send(url, headers);
      } catch (error) {
        if (req.signal?.aborted) throw error;
        throw new RegistryError('UNAVAILABLE', `upstream ${this.upstream.name} unreachable`, { cause: error });
      }
      if (url.origin === origin) {
        const view = readRateLimit(response.headers);
        if (view) {
          this.lastRateLimit = view;
          this.options.quota?.observe(this.upstream.name, this.credential, view);
        }
        if (response.statusCode === 429 && this.options.quota) {
          const until = this.options.quota.limited(this.upstream.name, this.credential, retryAfterSeconds(response.headers));
          // The client's Retry-After then comes from the window (upstream-errors.ts), not a guess.
          if (firstHeader(response.headers['retry-after']) === undefined) {
            response.headers['retry-after'] = String(Math.max(1, Math.ceil((until - Date.now()) / 1000)));
          }
        }
      }
      this.options.onResponse?.({ upstream: this.upstream.name, method: req.method, status: response.statusCode, kind: kindOf(req.path) });
      const location = firstHeader(response.headers.location);
      if (isRedirect(response.statusCode) && location) {
        await response.body.dump();
        if (hop >= MAX_REDIRECTS) throw new RegistryError('UNAVAILABLE', 'upstream redirected too many times');
        url = new URL(location, url);
        if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new RegistryError('UNAVAILABLE', 'upstream redirected to an unsupported scheme');
        const refusal = this.addresses.refusal(url.hostname);
        if (refusal !== undefined) {
          this.log.warn({ path: req.path, host: url.host, reason: refusal }, 'upstream redirect refused');
          throw new RegistryError('UNAVAILABLE', 'upstream redirected to an internal address');
        }
        continue;
      }
      return { status: response.statusCode, headers: response.headers, body: response.body, url: url.toString() };
    }
  }

  /** Hops of send(): undici's pool, its body a Readable. */
  private undiciHop(req: UpstreamRequest): Hop<UpstreamResponse['body']> {
    return (url, headers) => request(url, { method: req.method, headers, dispatcher: this.agent, signal: req.signal });
  }

  /**
   * The connector of the pool (blob downloads check the same in ring-transport.ts): IP literals are
   * checked here, since a connection to one makes no lookup (names are checked by the policy's lookup, at
   * the same moment). The pre-request check in follow()
   * gives the clearer error; this one also covers every other way a URL gets here.
   */
  private guardedConnector(connect: buildConnector.connector): buildConnector.connector {
    return (options, callback) => {
      const refusal = this.addresses.refusal(options.hostname);
      if (refusal !== undefined) {
        callback(Object.assign(new Error(`connection refused by the mirror: ${refusal}`), { code: 'EINTERNALADDRESS' }), null);
        return;
      }
      connect(options, callback);
    };
  }
}

export const USER_AGENT = 'pullthrough/0.1';

function parseTokenBody(bytes: Buffer): { token?: unknown; access_token?: unknown; expires_in?: unknown; issued_at?: unknown } | undefined {
  try {
    const parsed: unknown = JSON.parse(bytes.toString('utf8'));
    return parsed !== null && typeof parsed === 'object' ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** Retry-After in seconds (RFC 9110 10.2.3: delay-seconds or an HTTP-date); undefined when absent or bad. */
function retryAfterSeconds(headers: Record<string, string | string[] | undefined>): number | undefined {
  const value = firstHeader(headers['retry-after'])?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value);
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, Math.ceil((date - Date.now()) / 1000)) : undefined;
}

function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

function kindOf(path: string): string {
  if (/\/manifests\//.test(path)) return 'manifest';
  if (/\/blobs\//.test(path)) return 'blob';
  if (/\/tags\/list/.test(path)) return 'tags';
  if (/\/referrers\//.test(path)) return 'referrers';
  return 'ping';
}

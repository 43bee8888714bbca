// One client per configured upstream: speaks the registry's auth (anonymous or credentialed Bearer token
// flow, or Basic), follows redirects server-side (Docker Hub sends blobs to a CDN with 307; registry.k8s.io
// redirects manifests too) without carrying Authorization to another host, reads the rate-limit headers,
// and bounds every transfer by connect and idle time-outs.

import type { Readable } from 'node:stream';
import { Agent, request } from 'undici';
import type { Logger } from '../logger.ts';
import type { UpstreamConfig } from '../config.ts';
import { RegistryError } from '../errors.ts';
import { type AuthChallenge, parseAuthChallenge } from './auth-challenge.ts';
import { basicAuthorization, readCredentials } from './credentials.ts';
import { firstHeader, type RateLimitView, readRateLimit } from './rate-limit.ts';
import { type SharedTokenStore, TokenCache } from './token-cache.ts';

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable & { dump(): Promise<void> };
  /** The URL that finally answered (after redirects). */
  url: string;
}

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
  logger: Logger;
  /** Tokens shared with other replicas (per upstream), when there are replicas. */
  sharedTokens?: SharedTokenStore;
  /** Called for every response the upstream (or its redirect target) sends, for counting. */
  onResponse?: (event: { upstream: string; method: string; status: number; kind: string }) => void;
}

const MAX_REDIRECTS = 5;
const DEFAULT_TOKEN_LIFETIME_S = 60;

export class RegistryClient {
  readonly upstream: UpstreamConfig;
  private readonly agent: Agent;
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
    this.agent = new Agent({
      connect: { timeout: options.connectTimeoutMs },
      headersTimeout: options.idleTimeoutMs,
      bodyTimeout: options.idleTimeoutMs,
      keepAliveTimeout: 30_000,
      connections: 64,
    });
  }

  get rateLimit(): RateLimitView | undefined {
    return this.lastRateLimit;
  }

  /**
   * Sends a request, authenticating as the upstream demands (one retry after a 401 challenge).
   * Resolves with whatever status the upstream finally answers; rejects only when it cannot be reached.
   */
  async send(req: UpstreamRequest): Promise<UpstreamResponse> {
    const scope = req.repository ? `repository:${req.repository}:pull` : undefined;
    let authorization = await this.authorizationFor(scope, false);
    let response = await this.follow(req, authorization.header);
    // At most two retries: a first challenge may be answered with a token another replica shared, which
    // the upstream may refuse (revoked, rotated key); then one more with a token of our own.
    for (let retry = 0; response.status === 401 && retry < 2; retry++) {
      const challenge = parseAuthChallenge(firstHeader(response.headers['www-authenticate']));
      if (!challenge) break;
      // A token this process got itself that is still refused "insufficient_scope" will not gain the scope
      // by asking again: Docker Hub answers so for a repository that does not exist.
      if (authorization.own && challenge.scheme === 'bearer' && challenge.error === 'insufficient_scope') break;
      this.challenge = challenge;
      // Fresh credentials only if the ones we sent were refused; a first challenge may be answered from
      // a token already cached (by us or another replica).
      const refused = authorization.header !== undefined;
      const next = await this.authorizationFor(scope ?? (challenge.scheme === 'bearer' ? challenge.scope : undefined), refused);
      // No credentials to offer for a Basic challenge: the 401 is the answer.
      if (next.header === undefined) break;
      await response.body.dump();
      authorization = next;
      response = await this.follow(req, authorization.header);
    }
    return response;
  }

  /** The Authorization header value for a repository, for requests passed through verbatim. */
  async authorizationHeader(repository: string): Promise<string | undefined> {
    if (this.challenge === undefined) {
      // Learn the upstream's scheme from its /v2/ ping, the way docker clients do.
      const ping = await this.follow({ method: 'GET', path: '/v2/' }, undefined);
      await ping.body.dump();
      if (ping.status === 401) this.challenge = parseAuthChallenge(firstHeader(ping.headers['www-authenticate'])) ?? null;
      else if (ping.status < 500) this.challenge = null;
    }
    return (await this.authorizationFor(`repository:${repository}:pull`, false)).header;
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  /** The Authorization header to send; `own`: a token this process got from the token service itself. */
  private async authorizationFor(scope: string | undefined, refresh: boolean): Promise<{ header: string | undefined; own: boolean }> {
    const challenge = this.challenge;
    if (!challenge) return { header: undefined, own: false };
    const credentials = readCredentials(this.upstream);
    if (challenge.scheme === 'basic') return { header: credentials ? basicAuthorization(credentials) : undefined, own: false };
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
    const body = (await response.body.json()) as { token?: unknown; access_token?: unknown; expires_in?: unknown; issued_at?: unknown };
    const token = typeof body.token === 'string' ? body.token : typeof body.access_token === 'string' ? body.access_token : undefined;
    if (!token) throw new RegistryError('UNAVAILABLE', 'upstream token response has no token');
    const lifetime = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : DEFAULT_TOKEN_LIFETIME_S;
    const issuedAt = typeof body.issued_at === 'string' ? Date.parse(body.issued_at) : NaN;
    const start = Number.isFinite(issuedAt) && issuedAt <= Date.now() ? issuedAt : Date.now();
    return { token, expiresAt: start + lifetime * 1000 };
  }

  /** One request, following redirects; Authorization goes only to the upstream's own origin. */
  private async follow(req: UpstreamRequest, authorization: string | undefined): Promise<UpstreamResponse> {
    const origin = new URL(this.upstream.url).origin;
    let url = new URL(this.upstream.url + req.path);
    for (let hop = 0; ; hop++) {
      const headers: Record<string, string> = { 'user-agent': USER_AGENT, ...req.headers };
      if (authorization && url.origin === origin) headers.authorization = authorization;
      let response;
      try {
        response = await request(url, { method: req.method, headers, dispatcher: this.agent, signal: req.signal });
      } catch (error) {
        if (req.signal?.aborted) throw error;
        throw new RegistryError('UNAVAILABLE', `upstream ${this.upstream.name} unreachable`, { cause: error });
      }
      if (url.origin === origin) {
        const view = readRateLimit(response.headers);
        if (view) this.lastRateLimit = view;
      }
      this.options.onResponse?.({ upstream: this.upstream.name, method: req.method, status: response.statusCode, kind: kindOf(req.path) });
      const location = firstHeader(response.headers.location);
      if (isRedirect(response.statusCode) && location) {
        await response.body.dump();
        if (hop >= MAX_REDIRECTS) throw new RegistryError('UNAVAILABLE', 'upstream redirected too many times');
        url = new URL(location, url);
        if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new RegistryError('UNAVAILABLE', 'upstream redirected to an unsupported scheme');
        continue;
      }
      return { status: response.statusCode, headers: response.headers, body: response.body, url: url.toString() };
    }
  }
}

export const USER_AGENT = 'pullthrough/0.1';

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

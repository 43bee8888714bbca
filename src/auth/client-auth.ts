// Who may pull. With `auth` configured, every request except the health probes and the token endpoint
// needs an account from the htpasswd file: HTTP Basic on each request, or the registry token flow that
// `docker login MIRROR` and every registry client run (401 with a Bearer challenge → GET /token with
// Basic credentials → a short-lived signed token). The status page, /metrics and the setup pages are
// closed too: they name the images people pull. Without `auth`, everything stays open except the
// content of private upstreams (see pull-policy.ts).

import { readFileSync } from 'node:fs';
import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Config } from '../config.ts';
import { RegistryError } from '../errors.ts';
import { mirrorAddress } from '../routes/mirror-address.ts';
import { Htpasswd } from './htpasswd.ts';
import { LoginThrottle } from './login-throttle.ts';
import { TokenSigner } from './registry-token.ts';
import { tokenEndpoint } from './token-endpoint.ts';
import { inheritedTokenKey } from '../workers/worker-secrets.ts';
import { workerShare } from '../workers/worker-share.ts';

type AuthConfig = NonNullable<Config['auth']>;

/** Paths open to everyone: orchestrators probe these without credentials, and /token takes its own. */
const OPEN_PATHS = new Set(['/healthz', '/readyz', '/token']);
/** Replicas' internal endpoint: it checks the replicas' shared secret itself (src/routes/internal-fills.ts). */
const REPLICA_PREFIX = '/_internal/fills/';
/** A registry API path and the repository it names, for the challenge's scope. */
const REPOSITORY_PATH = /^(?:\/[^/]+)?\/v2\/(.+)\/(?:manifests|blobs|tags|referrers)\//;
/** Characters of a repository name (distribution's grammar is stricter; this is about quoting). */
const REPOSITORY_NAME = /^[A-Za-z0-9._/-]{1,255}$/;

export class ClientAuth {
  readonly config: AuthConfig;
  readonly signer: TokenSigner;
  private readonly htpasswd: Htpasswd;
  private readonly throttle: LoginThrottle;
  private readonly listen: Config['listen'] | undefined;

  constructor(config: AuthConfig, env: NodeJS.ProcessEnv = process.env, listen?: Config['listen']) {
    this.config = config;
    this.htpasswd = new Htpasswd(config.htpasswd);
    this.signer = new TokenSigner(readSecret(config, env));
    this.throttle = new LoginThrottle(config.maxFailedLogins, config.failedLoginWindow);
    this.listen = listen;
  }

  /**
   * The account behind the request's Authorization header, or undefined (none, wrong, expired, or an
   * account no longer in the htpasswd file). Basic credentials are a login: throttled per address
   * (throws 429 TOOMANYREQUESTS). Bearer tokens are not: they are signed, so guessing them gets nowhere.
   */
  async authenticate(request: FastifyRequest): Promise<string | undefined> {
    const authorization = request.headers.authorization;
    if (!authorization) return undefined;
    const space = authorization.indexOf(' ');
    const scheme = authorization.slice(0, space).toLowerCase();
    const value = authorization.slice(space + 1).trim();
    if (scheme === 'bearer') {
      const account = this.signer.verify(value, this.config.service)?.sub;
      // A token outlives nothing: once its account is removed from the file, it is refused (issue 9).
      return account !== undefined && this.htpasswd.has(account) ? account : undefined;
    }
    if (scheme === 'basic') {
      const credentials = decodeBasic(value);
      if (credentials && (await this.verifyPassword(credentials.username, credentials.password, request))) return credentials.username;
    }
    return undefined;
  }

  /** Checks a username and password (Basic credentials or the OAuth2 password grant), throttled per address. */
  verifyPassword(username: string, password: string, request: FastifyRequest): Promise<boolean> {
    return this.throttle.check(request.ip, () => this.htpasswd.verify(username, password), request.log);
  }

  /** The spec's 401: a Bearer challenge naming our token endpoint, the service and the scope asked for. */
  unauthorized(request: FastifyRequest, message = 'authentication required'): RegistryError {
    const realm = this.config.realm ?? `${this.ownUrl(request)}/token`;
    const repository = REPOSITORY_PATH.exec(request.url.split('?')[0] ?? '')?.[1];
    // Only a name of registry syntax goes into the quoted scope: nothing to break out of the quotes.
    const scope = repository && REPOSITORY_NAME.test(repository) ? `,scope="repository:${repository}:pull"` : '';
    return new RegistryError('UNAUTHORIZED', message, {
      headers: { 'www-authenticate': `Bearer realm="${realm}",service="${this.config.service}"${scope}` },
    });
  }

  /**
   * Our own URL as the client named it (Host, or X-Forwarded-Host behind a trusted proxy) when that is a
   * plain host[:port]. The Host header is the client's to choose: quotes and commas in it went straight
   * into the challenge (issue 9). Anything else falls back to the address the client connected to.
   */
  private ownUrl(request: FastifyRequest): string {
    try {
      return mirrorAddress(request).url;
    } catch {
      const socket = request.socket as { localAddress?: string; localPort?: number } | undefined;
      const host = socket?.localAddress ?? this.listen?.host ?? '127.0.0.1';
      const port = socket?.localPort ?? this.listen?.port;
      const bare = host.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
      const hostPart = bare.includes(':') ? `[${bare}]` : bare;
      return `${request.protocol === 'https' ? 'https' : 'http'}://${hostPart}${port ? `:${port}` : ''}`;
    }
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Client authentication, when `auth` is configured. */
    clientAuth: ClientAuth | undefined;
  }
  interface FastifyRequest {
    /** The authenticated account, if the client authenticated. */
    clientAccount: string | undefined;
  }
}

export const clientAuth = fp<{ config: Config }>(
  async (app: FastifyInstance, { config }) => {
    // Each worker counts failed logins on its own: it checks its share (src/workers/worker-share.ts).
    const auth = config.auth
      ? new ClientAuth({ ...config.auth, maxFailedLogins: workerShare(config.auth.maxFailedLogins, config.workers) }, process.env, config.listen)
      : undefined;
    app.decorate('clientAuth', auth);
    app.decorateRequest('clientAccount', undefined);
    if (!auth) return;
    app.addHook('onRequest', async (request) => {
      const path = request.url.split('?')[0] ?? '';
      if (OPEN_PATHS.has(path) || path.startsWith(REPLICA_PREFIX)) return;
      const account = await auth.authenticate(request);
      if (account === undefined) throw auth.unauthorized(request);
      request.clientAccount = account;
    });
    await app.register(tokenEndpoint, { auth });
  },
  { name: 'client-auth' },
);

function decodeBasic(value: string): { username: string; password: string } | undefined {
  const text = Buffer.from(value, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon <= 0) return undefined;
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

function readSecret(config: AuthConfig, env: NodeJS.ProcessEnv): string | undefined {
  if (config.secretEnv) {
    const value = env[config.secretEnv];
    if (!value) throw new Error(`auth.secretEnv: environment variable ${config.secretEnv} is not set`);
    return value;
  }
  if (config.secretFile) return readFileSync(config.secretFile, 'utf8').trim();
  // Workers of one server share the key their primary made (src/workers/worker-secrets.ts).
  return inheritedTokenKey(env);
}

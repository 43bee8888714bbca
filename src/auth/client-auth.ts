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
import { Htpasswd } from './htpasswd.ts';
import { TokenSigner } from './registry-token.ts';
import { tokenEndpoint } from './token-endpoint.ts';

type AuthConfig = NonNullable<Config['auth']>;

/** Paths open to everyone: orchestrators probe these without credentials, and /token takes its own. */
const OPEN_PATHS = new Set(['/healthz', '/readyz', '/token']);
/** A registry API path and the repository it names, for the challenge's scope. */
const REPOSITORY_PATH = /^(?:\/[^/]+)?\/v2\/(.+)\/(?:manifests|blobs|tags|referrers)\//;

export class ClientAuth {
  readonly config: AuthConfig;
  readonly signer: TokenSigner;
  private readonly htpasswd: Htpasswd;

  constructor(config: AuthConfig, env: NodeJS.ProcessEnv = process.env) {
    this.config = config;
    this.htpasswd = new Htpasswd(config.htpasswd);
    this.signer = new TokenSigner(readSecret(config, env));
  }

  /** The account behind the request's Authorization header, or undefined (none, wrong, expired). */
  async authenticate(authorization: string | undefined): Promise<string | undefined> {
    if (!authorization) return undefined;
    const space = authorization.indexOf(' ');
    const scheme = authorization.slice(0, space).toLowerCase();
    const value = authorization.slice(space + 1).trim();
    if (scheme === 'bearer') return this.signer.verify(value, this.config.service)?.sub;
    if (scheme === 'basic') {
      const credentials = decodeBasic(value);
      if (credentials && (await this.htpasswd.verify(credentials.username, credentials.password))) return credentials.username;
    }
    return undefined;
  }

  /** Checks a username and password (the token endpoint's Basic credentials or OAuth2 password grant). */
  verifyPassword(username: string, password: string): Promise<boolean> {
    return this.htpasswd.verify(username, password);
  }

  /** The spec's 401: a Bearer challenge naming our token endpoint, the service and the scope asked for. */
  unauthorized(request: FastifyRequest, message = 'authentication required'): RegistryError {
    const realm = this.config.realm ?? `${request.protocol}://${request.host}/token`;
    const repository = REPOSITORY_PATH.exec(request.url.split('?')[0] ?? '')?.[1];
    const scope = repository && !repository.includes('"') ? `,scope="repository:${repository}:pull"` : '';
    return new RegistryError('UNAUTHORIZED', message, {
      headers: { 'www-authenticate': `Bearer realm="${realm}",service="${this.config.service}"${scope}` },
    });
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
    const auth = config.auth ? new ClientAuth(config.auth) : undefined;
    app.decorate('clientAuth', auth);
    app.decorateRequest('clientAccount', undefined);
    if (!auth) return;
    app.addHook('onRequest', async (request) => {
      const path = request.url.split('?')[0] ?? '';
      if (OPEN_PATHS.has(path)) return;
      const account = await auth.authenticate(request.headers.authorization);
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
  return undefined;
}

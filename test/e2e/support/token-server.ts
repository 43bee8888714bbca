import { createPrivateKey, randomUUID, sign, timingSafeEqual, X509Certificate, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runChecked } from './run-command.ts';

export interface Credentials {
  username: string;
  password: string;
}

export interface TokenRequest {
  method: string;
  /** The account from Basic credentials that matched, or undefined for an anonymous request. */
  account: string | undefined;
  scopes: string[];
  service: string | undefined;
}

export interface TokenServer {
  /** http://127.0.0.1:PORT — the realm is `${url}/token`. */
  readonly url: string;
  readonly realm: string;
  readonly service: string;
  readonly issuer: string;
  /** PEM file of the self-signed certificate: the registry's `rootcertbundle`. */
  readonly certBundlePath: string;
  readonly credentials: Credentials;
  /** Number of token requests served (granted or refused) since start or the last reset. */
  count(): number;
  requests(): TokenRequest[];
  resetCounts(): void;
  /** Issues a token directly (no HTTP), e.g. for a test's own HEAD against the registry. */
  issue(scopes: readonly string[], account?: string): string;
  close(): Promise<void>;
}

export interface TokenServerOptions {
  /** Where the key and certificate are written. */
  dir: string;
  service?: string;
  issuer?: string;
  credentials?: Credentials;
  /** Seconds a token is valid; distribution requires at least 60 between nbf and exp to tolerate skew. */
  expiresIn?: number;
}

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

/** `repository:library/alpine:pull,push` → type, name, actions. The name itself may contain ':' only in a port. */
function parseScope(scope: string): { type: string; name: string; actions: string[] } | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first < 0 || last === first) return undefined;
  return {
    type: scope.slice(0, first),
    name: scope.slice(first + 1, last),
    actions: scope.slice(last + 1).split(',').filter((a) => a !== ''),
  };
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * A Docker-Hub-style token server (https://distribution.github.io/distribution/spec/auth/token/) for
 * CNCF distribution's `auth: token:`. Tokens are RS256 JWTs whose header carries the self-signed
 * certificate in `x5c`; distribution verifies that chain against `rootcertbundle`, which is the same
 * certificate. Anonymous callers get pull only; the configured user gets everything it asks for.
 */
export async function startTokenServer(opts: TokenServerOptions): Promise<TokenServer> {
  const service = opts.service ?? 'pullthrough-test-registry';
  const issuer = opts.issuer ?? 'pullthrough-test-issuer';
  const credentials = opts.credentials ?? { username: 'seeder', password: `pw-${randomUUID()}` };
  const expiresIn = opts.expiresIn ?? 300;
  const keyPath = join(opts.dir, 'token-key.pem');
  const certPath = join(opts.dir, 'token-cert.pem');
  // node:crypto cannot create X.509 certificates, so the openssl CLI makes the self-signed one.
  await runChecked('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyPath, '-out', certPath,
    '-days', '2', '-subj', '/CN=pullthrough-test-token', '-addext', 'keyUsage=digitalSignature,keyCertSign',
  ]);
  const key: KeyObject = createPrivateKey(await readFile(keyPath));
  const certDer = new X509Certificate(await readFile(certPath)).raw;

  let log: TokenRequest[] = [];

  function issue(scopes: readonly string[], account?: string): string {
    const now = Math.floor(Date.now() / 1000);
    const access = scopes
      .map(parseScope)
      .filter((s): s is NonNullable<typeof s> => s !== undefined)
      .map((s) => ({
        type: s.type,
        name: s.name,
        actions: account === undefined ? s.actions.filter((a) => a === 'pull') : s.actions,
      }));
    const header = { alg: 'RS256', typ: 'JWT', x5c: [certDer.toString('base64')] };
    const claims = {
      iss: issuer,
      sub: account ?? '',
      aud: service,
      // nbf in the past by a little: distribution allows some skew, but the mirror and registry share a clock anyway.
      nbf: now - 10,
      iat: now,
      exp: now + expiresIn,
      jti: randomUUID(),
      access,
    };
    const input = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
    return `${input}.${base64url(sign('sha256', Buffer.from(input), key))}`;
  }

  function authenticate(req: IncomingMessage, form: URLSearchParams | undefined): string | undefined | null {
    const header = req.headers.authorization;
    let user: string | undefined;
    let pass: string | undefined;
    if (header?.toLowerCase().startsWith('basic ')) {
      const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      user = decoded.slice(0, colon);
      pass = decoded.slice(colon + 1);
    } else if (form?.get('grant_type') === 'password') {
      // The OAuth2 password grant (POST) that some clients use instead of GET with Basic.
      user = form.get('username') ?? '';
      pass = form.get('password') ?? '';
    }
    if (user === undefined || pass === undefined) return undefined;
    if (safeEqual(user, credentials.username) && safeEqual(pass, credentials.password)) return user;
    return null;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://token.invalid');
    if (url.pathname !== '/token') {
      res.writeHead(404).end();
      return;
    }
    const form = req.method === 'POST' ? new URLSearchParams(await readBody(req)) : undefined;
    const params = form ?? url.searchParams;
    // Scopes may repeat (`scope=a&scope=b`), and the POST form joins several with spaces.
    const scopes = params.getAll('scope').flatMap((s) => s.split(' ')).filter((s) => s !== '');
    const account = authenticate(req, form);
    log.push({
      method: req.method ?? 'GET',
      account: account ?? undefined,
      scopes,
      service: params.get('service') ?? undefined,
    });
    if (account === null) {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'bad credentials' }] }));
      return;
    }
    const token = issue(scopes, account);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({ token, access_token: token, expires_in: expiresIn, issued_at: new Date().toISOString() }),
    );
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('token server has no address');
  const url = `http://127.0.0.1:${addr.port}`;

  return {
    url,
    realm: `${url}/token`,
    service,
    issuer,
    certBundlePath: certPath,
    credentials,
    count: () => log.length,
    requests: () => [...log],
    resetCounts: () => {
      log = [];
    },
    issue,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// The mirror's own bearer tokens, for the registry token flow clients run after `docker login`
// (distribution's token spec): short-lived, HMAC-SHA256 signed, opaque to clients. A random key per
// process is enough for one replica; replicas behind one name share a configured key.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export interface TokenClaims {
  /** The account the token was issued to. */
  sub: string;
  /** Audience: the service name in the challenge, so a token of another service is not accepted. */
  aud: string;
  /** Issued at and expiry, seconds since the epoch (JWT style). */
  iat: number;
  exp: number;
}

export class TokenSigner {
  private readonly key: Buffer;

  constructor(key?: string) {
    this.key = key ? Buffer.from(key, 'utf8') : randomBytes(32);
  }

  issue(account: string, audience: string, ttlMs: number, now = Date.now()): { token: string; claims: TokenClaims } {
    const iat = Math.floor(now / 1000);
    const claims: TokenClaims = { sub: account, aud: audience, iat, exp: iat + Math.max(1, Math.round(ttlMs / 1000)) };
    const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
    return { token: `${payload}.${this.sign(payload)}`, claims };
  }

  /** The claims of a token this key signed for `audience` and that has not expired; otherwise undefined. */
  verify(token: string, audience: string, now = Date.now()): TokenClaims | undefined {
    const dot = token.indexOf('.');
    if (dot <= 0 || token.length > 4096) return undefined;
    const payload = token.slice(0, dot);
    const given = Buffer.from(token.slice(dot + 1), 'base64url');
    const expected = Buffer.from(this.sign(payload), 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    let claims: Partial<TokenClaims>;
    try {
      claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Partial<TokenClaims>;
    } catch {
      return undefined;
    }
    if (typeof claims.sub !== 'string' || claims.aud !== audience || typeof claims.exp !== 'number' || typeof claims.iat !== 'number') return undefined;
    if (claims.exp * 1000 <= now) return undefined;
    return claims as TokenClaims;
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.key).update(payload).digest('base64url');
  }
}

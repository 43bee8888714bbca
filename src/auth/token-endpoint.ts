// GET /token and POST /token: the token server of the registry token flow (distribution's "Token
// Authentication Specification" and its OAuth2 variant). dockerd, podman and skopeo GET it with Basic
// credentials; containerd first POSTs a password grant and falls back to GET only on 404/405.
// Every account may pull every repository, so the token carries no scope of its own: the API only
// asks "who is this". Credentials sent here are never logged (the form body is not logged at all).

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RegistryError } from '../errors.ts';
import type { ClientAuth } from './client-auth.ts';

export async function tokenEndpoint(app: FastifyInstance, { auth }: { auth: ClientAuth }): Promise<void> {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 16 * 1024 }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  app.get('/token', async (request, reply) => {
    // Wrong credentials count towards the address's failed logins; past the limit this throws 429.
    const account = await auth.authenticate(request);
    // Only Basic credentials earn a token here; an anonymous or wrong request gets a Basic challenge.
    if (account === undefined || !/^basic /i.test(request.headers.authorization ?? '')) {
      reply.header('www-authenticate', `Basic realm="${auth.config.service}"`);
      throw new RegistryError('UNAUTHORIZED', 'valid credentials are required for a token');
    }
    return sendToken(request, reply, auth, account);
  });

  app.post('/token', async (request, reply) => {
    const form = (request.body ?? {}) as Record<string, string | undefined>;
    if (form.grant_type !== 'password') {
      return reply.code(400).send({ error: 'unsupported_grant_type', error_description: 'only the password grant is supported' });
    }
    const { username, password } = form;
    if (!username || password === undefined || !(await auth.verifyPassword(username, password, request))) {
      return reply.code(401).send({ error: 'invalid_grant', error_description: 'invalid credentials' });
    }
    return sendToken(request, reply, auth, username);
  });
}

function sendToken(request: FastifyRequest, reply: FastifyReply, auth: ClientAuth, account: string): FastifyReply {
  const { token, claims } = auth.signer.issue(account, auth.config.service, auth.config.tokenTtl);
  request.clientAccount = account;
  return reply.header('cache-control', 'no-store').send({
    token,
    access_token: token,
    expires_in: claims.exp - claims.iat,
    issued_at: new Date(claims.iat * 1000).toISOString(),
  });
}

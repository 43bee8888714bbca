// Parses WWW-Authenticate challenges (RFC 7235) as registries send them, e.g.
// Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/ubuntu:pull"

export type AuthChallenge =
  | { scheme: 'bearer'; realm: string; service?: string; scope?: string; error?: string }
  | { scheme: 'basic'; realm?: string };

const PARAM = /([a-zA-Z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))/g;

/** Where a new challenge starts inside one header: `, <Scheme> <param>=` (RFC 7235 §4.1 allows a list). */
const NEXT_CHALLENGE = /,\s*(?=[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*\s+[A-Za-z0-9_-]+\s*=)/;

/** The challenge to answer: Bearer when offered (it carries the token realm), otherwise the first one. */
export function parseAuthChallenge(header: string | undefined): AuthChallenge | undefined {
  if (!header) return undefined;
  const challenges = header.split(NEXT_CHALLENGE).map(parseOneChallenge).filter((c): c is AuthChallenge => c !== undefined);
  return challenges.find((c) => c.scheme === 'bearer') ?? challenges[0];
}

function parseOneChallenge(header: string): AuthChallenge | undefined {
  const space = header.indexOf(' ');
  const scheme = (space < 0 ? header : header.slice(0, space)).toLowerCase();
  const params: Record<string, string> = {};
  for (const match of header.slice(space + 1).matchAll(PARAM)) {
    params[(match[1] as string).toLowerCase()] = match[2] !== undefined ? match[2].replace(/\\(.)/g, '$1') : (match[3] ?? '');
  }
  if (scheme === 'basic') return params.realm === undefined ? { scheme } : { scheme, realm: params.realm };
  if (scheme !== 'bearer' || !params.realm) return undefined;
  const challenge: AuthChallenge = { scheme, realm: params.realm };
  if (params.service !== undefined) challenge.service = params.service;
  if (params.scope !== undefined) challenge.scope = params.scope;
  if (params.error !== undefined) challenge.error = params.error;
  return challenge;
}

// Parses WWW-Authenticate challenges (RFC 7235) as registries send them, e.g.
// Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/ubuntu:pull"

export type AuthChallenge =
  | { scheme: 'bearer'; realm: string; service?: string; scope?: string }
  | { scheme: 'basic'; realm?: string };

const PARAM = /([a-zA-Z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))/g;

export function parseAuthChallenge(header: string | undefined): AuthChallenge | undefined {
  if (!header) return undefined;
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
  return challenge;
}

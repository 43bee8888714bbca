// Where the mirror asks for tokens (issue 9). A 401's realm is the upstream's claim; the upstream's
// credentials go only to its own hostname (any port: registries often run the token service beside the
// registry) or to its configured tokenHosts (auth.docker.io for Docker Hub), and only over https unless the
// upstream itself is plain http. distribution's proxy trusts the upstream's registrable domain; an explicit
// list is narrower and needs no public-suffix data.
// A realm elsewhere is not contacted at all, with or without credentials: an anonymous token request is
// still a request the upstream chose the target of (the bait of an SSRF), and every registry the mirror
// knows of keeps its token service on its own host or on a host an operator can list.

import type { UpstreamConfig } from '../config.ts';
import { bareHostname } from './address-policy.ts';

/** Why the mirror will not ask this realm for a token, or undefined when it may. */
export function realmRefusal(upstream: Pick<UpstreamConfig, 'url' | 'tokenHosts'>, realm: string): string | undefined {
  let url: URL;
  try {
    url = new URL(realm);
  } catch {
    return 'the token realm is not a URL';
  }
  const own = new URL(upstream.url);
  const host = bareHostname(url.hostname);
  const trusted = host === bareHostname(own.hostname) || upstream.tokenHosts.some((allowed) => bareHostname(allowed) === host);
  if (!trusted) return `the token realm's host ${host} is neither the upstream's nor one of its tokenHosts`;
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:' && own.protocol === 'http:') return undefined;
  return `the token realm is not https (${url.protocol})`;
}

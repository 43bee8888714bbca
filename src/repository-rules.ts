// Allow and deny lists per upstream (issue 13): which repositories of an upstream the mirror serves at all.
// Checked on the upstream's repository name, the same for tags and digests, so a digest pull cannot slip
// past a rule written for tags; a denied repository costs no upstream request.

import type { UpstreamConfig } from './config.ts';
import { RegistryError } from './errors.ts';

/** `*` is one path segment, `**` any number of them (at least one); everything else matches itself. */
function compile(pattern: string): RegExp {
  const body = pattern
    .split('/')
    .map((segment) => (segment === '**' ? '[^/]+(?:/[^/]+)*' : segment === '*' ? '[^/]+' : segment.replace(/[.]/g, '\\.')))
    .join('/');
  return new RegExp(`^${body}$`);
}

const compiled = new WeakMap<Readonly<UpstreamConfig>, { allow: RegExp[] | undefined; deny: RegExp[] }>();

function rulesOf(upstream: Readonly<UpstreamConfig>): { allow: RegExp[] | undefined; deny: RegExp[] } {
  let rules = compiled.get(upstream);
  if (!rules) {
    rules = { allow: upstream.allow?.map(compile), deny: upstream.deny.map(compile) };
    compiled.set(upstream, rules);
  }
  return rules;
}

export function isRepositoryAllowed(upstream: Readonly<UpstreamConfig>, repository: string): boolean {
  const { allow, deny } = rulesOf(upstream);
  if (deny.some((rule) => rule.test(repository))) return false;
  return allow === undefined || allow.some((rule) => rule.test(repository));
}

/** DENIED by a rule of this mirror (not by an upstream): counted on the status page and /metrics. */
export class RepositoryDeniedError extends RegistryError {
  readonly upstream: string;
  constructor(upstream: string, repository: string) {
    super('DENIED', `repository ${repository} is not served by this mirror`, { detail: { upstream, repository } });
    this.upstream = upstream;
  }
}

export function assertRepositoryAllowed(upstream: Readonly<UpstreamConfig>, repository: string): void {
  if (!isRepositoryAllowed(upstream, repository)) throw new RepositoryDeniedError(upstream.name, repository);
}

// Which upstream a request is for, and the repository name to ask it for. Pure: no I/O.
//
// Order (DESIGN.md "Routing rules"): mirror path prefix (/<alias>/v2/...) → ?ns=<registry host>
// (containerd hosts.toml) → the request's virtual host (ghcr.cache.local, issue 13) → first segment of the
// repository name is an alias or host (/v2/ghcr.io/org/img) → the default upstream (daemon.json
// registry-mirrors sends Docker Hub names bare). Only configured upstreams can ever be chosen: an unknown
// prefix, ns or virtual host is NAME_UNKNOWN, never a host to contact.

import type { Config, UpstreamConfig } from './config.ts';
import { RegistryError } from './errors.ts';
import { assertValidName, type Digest, type ManifestReference, parseManifestReference, requireDigest } from './reference.ts';

export type RegistryEndpoint =
  | { kind: 'ping' }
  | { kind: 'catalog' }
  | { kind: 'manifest'; name: string; reference: ManifestReference }
  | { kind: 'blob'; name: string; digest: Digest }
  | { kind: 'tags'; name: string }
  | { kind: 'referrers'; name: string; digest: Digest }
  | { kind: 'upload'; name: string };

/** The request's path split into its mirror prefix (if any) and the registry API endpoint. */
export interface ParsedPath {
  prefix?: string;
  endpoint: RegistryEndpoint;
}

const UNPREFIXED_PATH = /^\/v2(\/.*)?$/;
const PREFIXED_PATH = /^\/([^/]+)\/v2(\/.*)?$/;

/** Parses `/[<prefix>/]v2/<endpoint>`; undefined when it is not a registry API path at all. */
export function parseRegistryPath(pathname: string): ParsedPath | undefined {
  // Unprefixed first, so a repository that happens to be called "v2" is not taken for a prefix.
  const unprefixed = UNPREFIXED_PATH.exec(pathname);
  const api = unprefixed ?? PREFIXED_PATH.exec(pathname);
  if (!api) return undefined;
  const prefix = unprefixed ? undefined : api[1];
  const rest = (unprefixed ? api[1] : api[2]) ?? '/';
  const withPrefix = (endpoint: RegistryEndpoint): ParsedPath => (prefix === undefined ? { endpoint } : { prefix, endpoint });
  if (rest === '/' || rest === '') return withPrefix({ kind: 'ping' });
  // The spec's catalog (issue 12): not a repository named "_catalog", which the name grammar forbids anyway.
  if (rest === '/_catalog') return withPrefix({ kind: 'catalog' });

  // Greedy name: the endpoint keywords are matched at the end, so a name may itself contain "blobs".
  // An upload is blobs/uploads/ followed by at most an id; anything longer is a name with those segments.
  let match = /^\/(.+)\/blobs\/uploads(?:\/[^/]*)?$/.exec(rest);
  if (match) return withPrefix({ kind: 'upload', name: validName(match[1]) });
  match = /^\/(.+)\/tags\/list$/.exec(rest);
  if (match) return withPrefix({ kind: 'tags', name: validName(match[1]) });
  match = /^\/(.+)\/(manifests|blobs|referrers)\/([^/]+)$/.exec(rest);
  if (!match) throw new RegistryError('NAME_INVALID', 'not a registry API path', { detail: { path: pathname } });
  const name = validName(match[1]);
  const reference = decodeSegment(match[3] as string);
  switch (match[2]) {
    case 'manifests':
      return withPrefix({ kind: 'manifest', name, reference: parseManifestReference(reference) });
    case 'blobs':
      return withPrefix({ kind: 'blob', name, digest: requireDigest(reference) });
    default:
      return withPrefix({ kind: 'referrers', name, digest: requireDigest(reference) });
  }
}

/** A first name segment that is a registry host with a port (`127.0.0.1:5001/library/x`): routes like a host. */
const HOST_WITH_PORT = /^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?:\d{1,5}$/;

function validName(name: string | undefined): string {
  // Names are lowercase ASCII by grammar, so any percent-escape (e.g. %2e%2e, %2f) is simply invalid.
  // A leading host:port is not part of the repository name: it picks the upstream (UpstreamRouter.route).
  const text = name ?? '';
  const slash = text.indexOf('/');
  if (slash > 0 && HOST_WITH_PORT.test(text.slice(0, slash))) {
    assertValidName(text.slice(slash + 1));
    return text;
  }
  assertValidName(text);
  return text;
}

function decodeSegment(segment: string): string {
  // Some clients escape the digest's colon (sha256%3A...). Nothing else is decoded: any other escape
  // stays a '%', which neither the tag nor the digest grammar accepts.
  return segment.replace(/%3a/gi, ':');
}

export interface RouteTarget {
  upstream: UpstreamConfig;
  /** Repository name as the upstream knows it (e.g. library/ubuntu). */
  repository: string;
}

export class UpstreamRouter {
  private readonly byAlias = new Map<string, UpstreamConfig>();
  private readonly byHost = new Map<string, UpstreamConfig>();
  /** `.cache.local` for `virtualHosts: "*.cache.local"`. */
  private readonly wildcardSuffix: string | undefined;
  private readonly defaultUpstream: UpstreamConfig;

  constructor(config: Config) {
    for (const upstream of Object.values(config.upstreams)) {
      for (const alias of [upstream.name, ...upstream.aliases, new URL(upstream.url).host]) {
        this.byAlias.set(alias.toLowerCase(), upstream);
      }
      for (const host of upstream.hosts) this.byHost.set(host.toLowerCase(), upstream);
    }
    this.wildcardSuffix = config.virtualHosts?.slice(1).toLowerCase();
    this.defaultUpstream = config.upstreams[config.defaultUpstream] as UpstreamConfig;
  }

  /**
   * The upstream a virtual host names: one listed in an upstream's `hosts`, or `<alias>.<base>` under the
   * `virtualHosts` wildcard. Undefined when the host is not a virtual host at all (the mirror's own name,
   * an IP address); NAME_UNKNOWN when it is under the wildcard but names no upstream.
   */
  byVirtualHost(host: string | undefined): UpstreamConfig | undefined {
    if (!host) return undefined;
    const name = host.toLowerCase().replace(/:\d+$/, '').replace(/\.$/, '');
    const listed = this.byHost.get(name);
    if (listed) return listed;
    const suffix = this.wildcardSuffix;
    if (!suffix || !name.endsWith(suffix) || name.length === suffix.length) return undefined;
    const label = name.slice(0, -suffix.length);
    // Only the first label: a.b.cache.local is not a virtual host of the wildcard.
    const upstream = label.includes('.') ? undefined : this.lookup(label);
    if (!upstream) throw unknownUpstream('host', name);
    return upstream;
  }

  /** The upstream a name, alias or host stands for, if configured. */
  lookup(alias: string): UpstreamConfig | undefined {
    return this.byAlias.get(alias.toLowerCase());
  }

  route(name: string, options: { prefix?: string; ns?: string; host?: string } = {}): RouteTarget {
    if (options.prefix !== undefined) {
      const upstream = this.lookup(options.prefix);
      if (!upstream) throw unknownUpstream('prefix', options.prefix);
      return this.target(upstream, name);
    }
    if (options.ns !== undefined && options.ns !== '') {
      const upstream = this.lookup(options.ns);
      if (!upstream) throw unknownUpstream('ns', options.ns);
      return this.target(upstream, name);
    }
    const virtual = this.byVirtualHost(options.host);
    if (virtual) return this.target(virtual, name);
    const slash = name.indexOf('/');
    if (slash > 0) {
      const first = name.slice(0, slash);
      const upstream = this.lookup(first);
      if (upstream) return this.target(upstream, name.slice(slash + 1));
      // host:port can only name a registry, never a repository of the default one: unknown, not a guess.
      if (first.includes(':')) throw unknownUpstream('host', first);
    }
    return this.target(this.defaultUpstream, name);
  }

  private target(upstream: UpstreamConfig, name: string): RouteTarget {
    // A host:port segment is only ever a routing hint: never part of a name sent upstream (a prefix or ns
    // already chose the upstream, so `/hub/v2/localhost:1/a` is no valid repository of it).
    assertValidName(name);
    const repository = upstream.defaultNamespace && !name.includes('/') ? `${upstream.defaultNamespace}/${name}` : name;
    return { upstream, repository };
  }
}

function unknownUpstream(via: 'prefix' | 'ns' | 'host', value: string): RegistryError {
  return new RegistryError('NAME_UNKNOWN', `no upstream is configured for ${via} "${value}"`, { detail: { [via]: value } });
}

// Which registry hosts each upstream answers for, as clients name them in image references
// (docker.io/library/alpine, ghcr.io/owner/img): the upstream URL's host and every alias that is a host.
// Bare aliases like "dockerhub" are mirror path prefixes, not hosts a client could pull from.

import type { Config } from '../../config.ts';

export interface MirroredUpstream {
  name: string;
  url: string;
  hosts: string[];
  /** Serves docker.io names (by URL, alias or the name "dockerhub", as config.ts decides). */
  dockerHub: boolean;
  /** An image this registry plausibly has, repository:tag as its own clients name it, for examples. */
  example: string;
}

const DOCKER_HUB_HOSTS = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

// Images that exist on the well-known registries, so a copied example pull works (issue 12: a page for
// a ghcr-only mirror suggested `docker pull alpine`). Other registries get a placeholder.
const EXAMPLES: Record<string, string> = {
  'docker.io': 'library/alpine:3.20',
  'ghcr.io': 'actions/actions-runner:latest',
  'quay.io': 'prometheus/prometheus:latest',
  'registry.k8s.io': 'pause:3.10',
  'k8s.gcr.io': 'pause:3.9',
  'gcr.io': 'distroless/static-debian12:latest',
  'mcr.microsoft.com': 'dotnet/runtime:8.0',
  'public.ecr.aws': 'docker/library/alpine:3.20',
};

export function mirroredUpstreams(config: Config): MirroredUpstream[] {
  return Object.values(config.upstreams).map((upstream) => {
    const seen = new Set<string>();
    const hosts: string[] = [];
    for (const candidate of [...upstream.aliases, new URL(upstream.url).host]) {
      const host = candidate.toLowerCase();
      if (!isRegistryHost(host) || seen.has(host)) continue;
      seen.add(host);
      hosts.push(host);
    }
    const dockerHub = upstream.name === 'dockerhub' || hosts.some((host) => DOCKER_HUB_HOSTS.has(host));
    const known = dockerHub
      ? EXAMPLES['docker.io']
      : [new URL(upstream.url).host, ...hosts].map((host) => EXAMPLES[host]).find((example) => example !== undefined);
    return { name: upstream.name, url: upstream.url, hosts, dockerHub, example: known ?? 'NAMESPACE/IMAGE:TAG' };
  });
}

/** The default upstream: requests that name no upstream (dockerd's registry-mirrors requests) go there. */
export function defaultMirroredUpstream(config: Config, upstreams: readonly MirroredUpstream[]): MirroredUpstream {
  return upstreams.find((u) => u.name === config.defaultUpstream) ?? (upstreams[0] as MirroredUpstream);
}

function isRegistryHost(name: string): boolean {
  // The same test docker and containerd use to tell a registry host from a namespace: a dot, a port,
  // or localhost.
  return /^[a-z0-9.-]+(:\d+)?$/.test(name) && (name.includes('.') || name.includes(':') || name === 'localhost');
}

/** A string as one single-quoted POSIX shell word. */
export function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

// Which registry hosts each upstream answers for, as clients name them in image references
// (docker.io/library/alpine, ghcr.io/owner/img): the upstream URL's host and every alias that is a host.
// Bare aliases like "dockerhub" are mirror path prefixes, not hosts a client could pull from.

import type { Config } from '../../config.ts';

export interface MirroredUpstream {
  name: string;
  url: string;
  hosts: string[];
}

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
    return { name: upstream.name, url: upstream.url, hosts };
  });
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

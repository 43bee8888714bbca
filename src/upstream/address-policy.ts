// Where an upstream may send the mirror (issue 9): redirects and token realms are claims of the upstream,
// and a hostile one would aim them at the mirror's own network (cloud metadata at 169.254.169.254, admin
// consoles on 10/8, the loopback). Hosts the operator configured — the upstream's own hostname and its
// tokenHosts — may be anywhere; any other host only on a public address, unless allowPrivateAddresses.
// Checked twice: IP literals before a request is made, and every address a name resolves to at connect
// time (the lookup the connection really uses), so DNS cannot turn a public name into an internal address.

import dns from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import type { UpstreamConfig } from '../config.ts';

const INTERNAL = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], // "this network", including the unspecified address
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata services
  ['172.16.0.0', 12],
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.168.0.0', 16],
  ['198.18.0.0', 15], // benchmarking networks
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, and the broadcast address
] as const) {
  INTERNAL.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128], // unspecified
  ['::1', 128],
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
] as const) {
  INTERNAL.addSubnet(network, prefix, 'ipv6');
}

/** Whether an IP address is loopback, link-local, private, CGNAT, unspecified or otherwise not public. */
export function isInternalAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  // BlockList also matches IPv4-mapped IPv6 addresses (::ffff:127.0.0.1) against the IPv4 rules.
  return INTERNAL.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/** A URL hostname without the brackets of an IPv6 literal, lower-cased. */
export function bareHostname(hostname: string): string {
  return hostname.replace(/^\[|\]$/g, '').toLowerCase();
}

/** The destinations one upstream may make the mirror reach. */
export class AddressPolicy {
  private readonly configuredHosts: ReadonlySet<string>;
  private readonly allowPrivate: boolean;

  constructor(upstream: Pick<UpstreamConfig, 'url' | 'tokenHosts' | 'allowPrivateAddresses'>) {
    this.configuredHosts = new Set([new URL(upstream.url).hostname, ...upstream.tokenHosts].map(bareHostname));
    this.allowPrivate = upstream.allowPrivateAddresses;
  }

  /** The upstream's own hostname or one of its tokenHosts: named by the operator, so trusted anywhere. */
  isConfiguredHost(hostname: string): boolean {
    return this.configuredHosts.has(bareHostname(hostname));
  }

  /** Why a request to this hostname must not be made before any lookup (an internal IP literal), if so. */
  refusal(hostname: string): string | undefined {
    const host = bareHostname(hostname);
    if (this.allowPrivate || this.isConfiguredHost(host)) return undefined;
    return isInternalAddress(host) ? `${host} is an internal address` : undefined;
  }

  /**
   * A DNS lookup for connections that leaves out internal addresses of hosts the operator did not name;
   * a name with nothing else fails to resolve.
   */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    dns.lookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) {
        callback(error, '', 0);
        return;
      }
      const usable = this.allowPrivate || this.isConfiguredHost(hostname) ? addresses : addresses.filter((a) => !isInternalAddress(a.address));
      const first = usable[0];
      if (!first) {
        const refused: NodeJS.ErrnoException = new Error(`${hostname} resolves only to internal addresses`);
        refused.code = 'EINTERNALADDRESS';
        callback(refused, '', 0);
        return;
      }
      if (options.all) callback(null, usable);
      else callback(null, first.address, first.family);
    });
  };
}

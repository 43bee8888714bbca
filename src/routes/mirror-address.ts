// The address clients reach the mirror at, as the request that asked for a setup page saw it: its Host
// header (or X-Forwarded-Host/-Proto when `trustProxy` is set; Fastify applies that). The value ends up
// in shell scripts and config files, so anything but a plain host[:port] is refused.

import type { FastifyRequest } from 'fastify';
import { RegistryError } from '../errors.ts';

export interface MirrorAddress {
  scheme: 'http' | 'https';
  /** host[:port] as clients write it, e.g. cache.local:5000. */
  host: string;
  /** scheme://host */
  url: string;
}

const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

export function mirrorAddress(request: FastifyRequest): MirrorAddress {
  const host = request.host;
  if (!HOST.test(host)) throw new RegistryError('NAME_INVALID', 'the Host header is not a plain host[:port]', { detail: { host } });
  const scheme = request.protocol === 'https' ? 'https' : 'http';
  return { scheme, host, url: `${scheme}://${host}` };
}

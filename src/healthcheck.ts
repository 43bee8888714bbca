// Container HEALTHCHECK: asks the running mirror's /v2/ on the address its config (file and environment
// overrides, read exactly as the server reads them) says it listens on. Exit 0 healthy, 1 not.

import { DEFAULT_CONFIG_PATH, loadConfig } from './config.ts';

const PROBE_TIMEOUT_MS = 2500;

async function probe(): Promise<boolean> {
  const { host, port } = loadConfig(process.env.PULLTHROUGH_CONFIG || DEFAULT_CONFIG_PATH).listen;
  // A wildcard listener is reachable on loopback; IPv6 literals need brackets in a URL.
  const target = host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host;
  const url = `http://${target.includes(':') ? `[${target}]` : target}:${port}/v2/`;
  const response = await fetch(url, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
  return response.ok;
}

probe().then(
  (healthy) => process.exit(healthy ? 0 : 1),
  () => process.exit(1),
);

// A small mirror config for routing tests, built through the real validator (parseConfig).
import { type Config, parseConfig } from '../../../src/config.ts';

export function routingConfig(): Config {
  return parseConfig({
    storage: { path: '/tmp/pullthrough-routing-test' },
    defaultUpstream: 'dockerhub',
    upstreams: {
      dockerhub: {
        url: 'https://registry-1.docker.io',
        aliases: ['docker.io', 'index.docker.io'],
        defaultNamespace: 'library',
      },
      ghcr: { url: 'https://ghcr.io', aliases: ['ghcr.io'] },
      k8s: { url: 'https://registry.k8s.io', aliases: ['K8s.GCR.io'] },
      internal: { url: 'http://127.0.0.1:5001', aliases: ['Registry.Internal'] },
    },
  });
}

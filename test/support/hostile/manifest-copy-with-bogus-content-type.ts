// Attack (issue 9, finding 3): a second upstream serves a byte-identical copy of a real manifest (same
// digest) under another Content-Type. When media types were recorded per digest for all upstreams, its
// answer changed how the first, honest upstream's route served that digest.

import type { Scenario } from '../hostile-registry.ts';

/** Serves the honest registry's manifests with `contentType` instead of their real media type. */
export function manifestCopyWithContentType(contentType: string): Scenario {
  return (req, res, { honest }) => {
    const match = /^\/v2\/(.+)\/manifests\/([^/?]+)/.exec(req.url ?? '');
    if (!match) return false;
    const [, repository, reference] = match as unknown as [string, string, string];
    const digest = reference.includes(':') ? reference : honest.tags.get(repository)?.get(reference);
    const manifest = digest ? honest.manifests.get(digest) : undefined;
    if (!manifest) return false;
    res.writeHead(200, { 'content-type': contentType, 'content-length': manifest.bytes.length, 'docker-content-digest': manifest.digest });
    res.end(req.method === 'HEAD' ? undefined : manifest.bytes);
    return true;
  };
}

/** The copy served as an HTML page. */
export const manifestCopyServedAsHtml: Scenario = manifestCopyWithContentType('text/html');

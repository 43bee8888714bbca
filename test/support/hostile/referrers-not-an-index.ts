// Attack (issue 13): the referrers listing answered with something that is not an OCI image index — an
// HTML page, an index under an HTML type, truncated JSON, JSON of another shape, descriptors with bogus
// digests, 10 MiB (announced or not) — hoping the mirror caches it and serves it to every verifier.

import type { Scenario } from '../hostile-registry.ts';

export type ReferrersAttack = 'honest' | 'html' | 'index-typed-html' | 'truncated' | 'wrong-shape' | 'bogus-descriptor' | 'huge' | 'huge-announced';

export const referrersAttack: { mode: ReferrersAttack } = { mode: 'honest' };

export const ATTACKS: ReferrersAttack[] = ['html', 'index-typed-html', 'truncated', 'wrong-shape', 'bogus-descriptor', 'huge', 'huge-announced'];

const INDEX = 'application/vnd.oci.image.index.v1+json';
const HUGE = 10 * 1024 * 1024;

export const referrersNotAnIndex: Scenario = (req, res) => {
  if (!/\/referrers\//.test(req.url ?? '') || referrersAttack.mode === 'honest') return false;
  const index = (manifests: unknown): string => JSON.stringify({ schemaVersion: 2, mediaType: INDEX, manifests });
  const descriptor = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${'e'.repeat(64)}`, size: 10, artifactType: 'application/x-evil' };
  switch (referrersAttack.mode) {
    case 'html':
      res.writeHead(200, { 'content-type': 'text/html' }).end('<html><script>alert("referrers")</script></html>');
      return true;
    case 'index-typed-html':
      res.writeHead(200, { 'content-type': 'text/html' }).end(index([descriptor]));
      return true;
    case 'truncated':
      res.writeHead(200, { 'content-type': INDEX }).end(index([descriptor]).slice(0, 40));
      return true;
    case 'wrong-shape':
      res.writeHead(200, { 'content-type': INDEX }).end(JSON.stringify({ schemaVersion: 1, manifests: 'application/x-evil' }));
      return true;
    case 'bogus-descriptor':
      res.writeHead(200, { 'content-type': INDEX }).end(index([{ ...descriptor, digest: '../../etc/passwd' }]));
      return true;
    case 'huge':
    case 'huge-announced': {
      // A syntactically valid index, padded with whitespace to 10 MiB.
      const body = Buffer.alloc(HUGE, 0x20);
      Buffer.from(index([descriptor])).copy(body, 0);
      res.writeHead(200, { 'content-type': INDEX, ...(referrersAttack.mode === 'huge-announced' && { 'content-length': String(HUGE) }) });
      res.end(body);
      return true;
    }
  }
};

// Attack (issue 9, finding 2): every manifest request is answered 200 with an HTML page carrying a
// script, as a hijacked or typo'd registry would. A mirror that copies the upstream's Content-Type (or
// keeps the body) would serve script to browsers from its own origin.

import { createHash } from 'node:crypto';
import { BAIT_BODY } from '../bait-server.ts';
import type { Scenario } from '../hostile-registry.ts';

export const HTML_DIGEST = `sha256:${createHash('sha256').update(BAIT_BODY).digest('hex')}`;

export const manifestServedAsHtml: Scenario = (req, res) => {
  if (!/\/manifests\//.test(req.url ?? '')) return false;
  res.writeHead(200, {
    'content-type': 'text/html',
    'content-length': Buffer.byteLength(BAIT_BODY),
    // A digest that matches the body: the answer is internally consistent, only its type is hostile.
    'docker-content-digest': HTML_DIGEST,
  });
  res.end(req.method === 'HEAD' ? undefined : BAIT_BODY);
  return true;
};

// Attack (issue 9): a redirect to a *name* (not an IP literal) that resolves to a loopback address, hoping
// a check of the URL alone lets it through. Here the name is `localhost` and the target is the hostile
// front itself under /loop/, so a followed redirect shows up in its request log.

import type { Scenario } from '../hostile-registry.ts';

export const redirectThroughNameToLoopback: Scenario = (req, res, { url }) => {
  const path = req.url ?? '';
  if (path.startsWith('/loop/')) {
    res.writeHead(200, { 'content-type': 'text/html' }).end('<html>internal</html>');
    return true;
  }
  if (req.method !== 'GET' || !/\/(manifests|blobs)\//.test(path)) return false;
  res.writeHead(307, { location: `${url.replace('127.0.0.1', 'localhost')}/loop${path}` }).end();
  return true;
};

// Attack (issue 9): manifests and blobs answer 307 to an internal host (the bait on 127.0.0.2), hoping the
// mirror fetches it from inside the network and serves (or even stores) what it says.

import type { Scenario } from '../hostile-registry.ts';

export const redirectToBait: Scenario = (req, res, { bait }) => {
  if (req.method !== 'GET' || !/\/(manifests|blobs)\//.test(req.url ?? '')) return false;
  res.writeHead(307, { location: `${bait.url}/internal/admin${req.url ?? ''}` }).end();
  return true;
};

// Attack (issue 9): the upstream's 401 names a token realm on another host (the bait), hoping the mirror
// sends the upstream's credentials there as it would to a real token service.

import type { Scenario } from '../hostile-registry.ts';

export const realmOnAnotherHost: Scenario = (req, res, { bait }) => {
  if (!(req.url ?? '').startsWith('/v2/')) return false;
  res.writeHead(401, {
    'www-authenticate': `Bearer realm="${bait.url}/token",service="hostile",scope="repository:team/app:pull"`,
    'content-type': 'application/json',
  });
  res.end('{"errors":[{"code":"UNAUTHORIZED"}]}');
  return true;
};

// Attack (issue 9): the upstream itself asks for no auth, but redirects manifests and blobs to another
// host whose 401 names a token realm there. A mirror that takes that challenge as the upstream's sends
// the upstream's credentials to the redirect target's realm, and keeps doing so for later requests.

import type { BaitServer } from '../bait-server.ts';
import type { Scenario } from '../hostile-registry.ts';

export const redirectTargetChallenge: Scenario = (req, res, { bait }) => {
  if (req.method !== 'GET' || !/\/(manifests|blobs)\//.test(req.url ?? '')) return false;
  res.writeHead(307, { location: `${bait.url}/storage${req.url ?? ''}` }).end();
  return true;
};

/** Makes the bait answer every request with a Bearer challenge whose realm is on the bait itself. */
export function baitChallengesWithItsOwnRealm(bait: BaitServer): void {
  bait.answer = (_req, res) => {
    res.writeHead(401, {
      'www-authenticate': `Bearer realm="${bait.url}/token",service="bait",scope="repository:team/app:pull"`,
      'content-type': 'application/json',
    });
    res.end('{"errors":[{"code":"UNAUTHORIZED"}]}');
  };
}

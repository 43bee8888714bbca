// Attack (issue 9): tags/list answers with headers meant for the mirror's clients' browsers and for
// redirecting them (HTML, open CORS, a cookie, a Link to another host), and referrers answers 302 to an
// internal host, hoping the passthrough forwards all of it verbatim.

import type { Scenario } from '../hostile-registry.ts';

/** Headers no answer of the mirror may carry, with the value the attack sends. */
export const HOSTILE_HEADERS = {
  'access-control-allow-origin': '*',
  'access-control-allow-credentials': 'true',
  'set-cookie': 'session=stolen; Path=/',
  'content-security-policy': "default-src *",
  refresh: '0; url=http://127.0.0.2/',
  'x-evil': 'yes',
} as const;

export const hostileListingHeaders: Scenario = (req, res, { bait }) => {
  const path = req.url ?? '';
  if (/\/tags\/list/.test(path)) {
    res.writeHead(200, {
      ...HOSTILE_HEADERS,
      'content-type': 'text/html',
      link: `<${bait.url}/steal?from=tags>; rel="next"`,
    });
    res.end('<html><script>alert("tags")</script></html>');
    return true;
  }
  if (/\/referrers\//.test(path)) {
    res.writeHead(302, { ...HOSTILE_HEADERS, location: `${bait.url}/internal/referrers` }).end();
    return true;
  }
  return false;
};

// Attack (issue 9): tags/list answers with a body far larger than any tag list (6 MiB of JSON, written as
// it is sent), hoping the passthrough relays all of it to every client that asks.

import type { Scenario } from '../hostile-registry.ts';

export const OVERSIZED_LISTING_BYTES = 6 * 1024 * 1024;

export const oversizedListing: Scenario = (req, res) => {
  if (!/\/tags\/list/.test(req.url ?? '')) return false;
  res.writeHead(200, { 'content-type': 'application/json' });
  res.write('{"name":"team/app","tags":["');
  const filler = Buffer.alloc(64 * 1024, 'a');
  let sent = 0;
  const pump = (): void => {
    while (sent < OVERSIZED_LISTING_BYTES && !res.destroyed) {
      sent += filler.length;
      if (!res.write(filler)) {
        res.once('drain', pump);
        return;
      }
    }
    if (!res.destroyed) res.end('"]}');
  };
  pump();
  return true;
};

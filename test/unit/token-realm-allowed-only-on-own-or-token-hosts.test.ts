import { test } from 'node:test';
import assert from 'node:assert/strict';
import { realmRefusal } from '../../src/upstream/token-realm-policy.ts';

// Issue 9: an upstream's credentials go only to its own hostname (any port) or its tokenHosts, over https
// unless the upstream itself is plain http.

const hub = { url: 'https://registry-1.docker.io', tokenHosts: ['auth.docker.io'] };
const ghcr = { url: 'https://ghcr.io', tokenHosts: [] };
const internal = { url: 'http://127.0.0.1:5000', tokenHosts: [] };

test('the upstream’s own host and its tokenHosts are asked', () => {
  assert.equal(realmRefusal(hub, 'https://auth.docker.io/token'), undefined);
  assert.equal(realmRefusal(hub, 'https://AUTH.docker.io:443/token'), undefined);
  assert.equal(realmRefusal(ghcr, 'https://ghcr.io/token'), undefined);
  assert.equal(realmRefusal(internal, 'http://127.0.0.1:5001/token'), undefined, 'same host, another port');
});

test('any other host, or plain http for an https upstream, is refused', () => {
  assert.match(realmRefusal(ghcr, 'https://auth.docker.io/token') ?? '', /neither the upstream's nor one of its tokenHosts/);
  assert.match(realmRefusal(hub, 'https://auth.docker.io.evil.example/token') ?? '', /neither/);
  assert.match(realmRefusal(internal, 'http://127.0.0.2:5000/token') ?? '', /neither/);
  assert.match(realmRefusal(hub, 'http://auth.docker.io/token') ?? '', /not https/);
  assert.match(realmRefusal(ghcr, 'ftp://ghcr.io/token') ?? '', /not https/);
  assert.match(realmRefusal(ghcr, 'not a url') ?? '', /not a URL/);
});

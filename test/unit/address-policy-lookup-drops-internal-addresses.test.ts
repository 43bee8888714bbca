import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import { AddressPolicy } from '../../src/upstream/address-policy.ts';

// The lookup the upstream pools connect with (issue 9): a name the operator did not configure that
// resolves to an internal address is not connected to, so DNS cannot slip past the redirect check.

function lookup(policy: AddressPolicy, hostname: string): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) => {
    policy.lookup(hostname, { all: true }, (error, addresses) => (error ? reject(error) : resolve(addresses as LookupAddress[])));
  });
}

const upstream = { url: 'http://127.0.0.1:5000', tokenHosts: ['localhost'] };

test('a name that resolves to loopback is refused unless configured or allowed', async () => {
  const policy = new AddressPolicy({ url: 'https://registry.example', tokenHosts: [], allowPrivateAddresses: false });
  await assert.rejects(lookup(policy, 'localhost'), { code: 'EINTERNALADDRESS' });
  assert.equal(policy.refusal('127.0.0.2'), '127.0.0.2 is an internal address');
  assert.equal(policy.refusal('[::1]'), '::1 is an internal address');
  assert.equal(policy.refusal('cdn.example'), undefined, 'names are decided by the lookup');
});

test('the upstream’s own host and its tokenHosts may be anywhere; allowPrivateAddresses lifts the rule', async () => {
  const configured = new AddressPolicy({ ...upstream, allowPrivateAddresses: false });
  assert.ok((await lookup(configured, 'localhost')).length > 0, 'a tokenHost resolves as usual');
  assert.equal(configured.refusal('127.0.0.1'), undefined, 'the upstream’s own host');
  assert.equal(configured.refusal('127.0.0.2'), '127.0.0.2 is an internal address');
  const allowed = new AddressPolicy({ url: 'https://registry.example', tokenHosts: [], allowPrivateAddresses: true });
  assert.ok((await lookup(allowed, 'localhost')).length > 0);
  assert.equal(allowed.refusal('10.0.0.1'), undefined);
});

test('a lookup without `all` gets one address, as net.connect may ask', async () => {
  const policy = new AddressPolicy({ ...upstream, allowPrivateAddresses: false });
  const single = await new Promise<string>((resolve, reject) => {
    policy.lookup('localhost', {}, (error, address) => (error ? reject(error) : resolve(address as string)));
  });
  assert.match(single, /^(127\.0\.0\.1|::1)$/);
});

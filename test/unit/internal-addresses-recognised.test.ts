import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isInternalAddress } from '../../src/upstream/address-policy.ts';

test('loopback, private, link-local, CGNAT, unspecified and mapped forms are internal', () => {
  for (const address of [
    '127.0.0.1', '127.0.0.2', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254',
    '100.64.0.1', '0.0.0.0', '255.255.255.255', '::1', '::', 'fe80::1', 'fc00::1', 'fd12:3456::1',
    '::ffff:127.0.0.1', '::ffff:a9fe:a9fe',
  ]) {
    assert.equal(isInternalAddress(address), true, address);
  }
});

test('public addresses and names are not (names are checked once resolved)', () => {
  for (const address of ['8.8.8.8', '172.32.0.1', '100.128.0.1', '2606:4700::1111', 'registry-1.docker.io']) {
    assert.equal(isInternalAddress(address), false, address);
  }
});

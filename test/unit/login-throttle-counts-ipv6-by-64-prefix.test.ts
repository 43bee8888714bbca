import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LoginThrottle, throttleKey } from '../../src/auth/login-throttle.ts';

// One host commonly holds a whole IPv6 /64: counting single IPv6 addresses would let it guess without
// limit by changing its address (issue 9). IPv4 (also as IPv4-mapped IPv6) counts address by address.

test('IPv6 addresses count by their /64, IPv4 ones one by one', () => {
  assert.equal(throttleKey('2001:db8:1:2:3:4:5:6'), '2001:db8:1:2::/64');
  assert.equal(throttleKey('2001:db8:1:2::99'), '2001:db8:1:2::/64');
  assert.equal(throttleKey('2001:0DB8:0001:0002:ffff::1'), '2001:db8:1:2::/64');
  assert.equal(throttleKey('::1'), '0:0:0:0::/64');
  assert.equal(throttleKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
  assert.equal(throttleKey('::ffff:192.0.2.7'), '192.0.2.7');
  assert.equal(throttleKey('192.0.2.7'), '192.0.2.7');
  assert.notEqual(throttleKey('2001:db8:1:3::1'), throttleKey('2001:db8:1:2::1'));
});

test('failures from many addresses of one /64 share one limit', async () => {
  const throttle = new LoginThrottle(5, 60_000);
  const outcomes: string[] = [];
  for (let i = 1; i <= 7; i++) {
    outcomes.push(
      await throttle.check(`2001:db8:aa:bb::${i.toString(16)}`, async () => false).then(
        () => 'refused',
        () => 'throttled',
      ),
    );
  }
  assert.deepEqual(outcomes, ['refused', 'refused', 'refused', 'refused', 'refused', 'throttled', 'throttled']);
});

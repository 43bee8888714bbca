import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LoginThrottle } from '../../src/auth/login-throttle.ts';
import { RegistryError } from '../../src/errors.ts';

// The throttle's memory is bounded (issue 9): an attacker with many addresses cannot grow it past its
// cap, and windows that have passed are dropped.

const fail = async (): Promise<boolean> => false;

test('no more addresses are tracked than the cap, however many fail', async () => {
  const throttle = new LoginThrottle(3, 60_000, 100);
  for (let i = 0; i < 1000; i++) await throttle.check(`10.0.${i >> 8}.${i & 255}`, fail);
  assert.equal(throttle.size, 100);
  // The newest addresses are the ones kept, and still counted.
  await throttle.check('10.0.3.231', fail);
  await throttle.check('10.0.3.231', fail);
  await assert.rejects(throttle.check('10.0.3.231', fail), (error: unknown) => error instanceof RegistryError && error.code === 'TOOMANYREQUESTS');
});

test('a window that has passed is forgotten, and the address may try again', async (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
  const throttle = new LoginThrottle(2, 60_000);
  await throttle.check('192.0.2.1', fail);
  await throttle.check('192.0.2.1', fail);
  let verified = 0;
  const succeed = async (): Promise<boolean> => {
    verified += 1;
    return true;
  };
  await assert.rejects(throttle.check('192.0.2.1', succeed), (error: unknown) => {
    assert.ok(error instanceof RegistryError);
    assert.equal(error.headers['retry-after'], '60');
    return true;
  });
  assert.equal(verified, 0, 'a throttled attempt is not checked');
  t.mock.timers.tick(30_000);
  await assert.rejects(throttle.check('192.0.2.1', succeed), (error: unknown) => error instanceof RegistryError && error.headers['retry-after'] === '30');
  t.mock.timers.tick(30_001);
  assert.equal(await throttle.check('192.0.2.1', succeed), true);
  assert.equal(verified, 1);
  assert.equal(throttle.size, 1, 'the expired window was dropped and a new one started');
});

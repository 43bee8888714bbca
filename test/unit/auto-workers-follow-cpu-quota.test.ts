import assert from 'node:assert/strict';
import { test } from 'node:test';
import { autoWorkers } from '../../src/workers/worker-count.ts';

// workers: auto in a container limited to some CPUs: one worker per core it may use, not per host core.

test('a cgroup CPU quota caps auto workers at its whole cores, rounded up', () => {
  assert.equal(autoWorkers(64, '200000 100000\n'), 2, '--cpus=2 on a 64-core host');
  assert.equal(autoWorkers(64, '150000 100000'), 2, '--cpus=1.5');
  assert.equal(autoWorkers(64, '50000 100000'), 1, '--cpus=0.5 still one worker');
  assert.equal(autoWorkers(4, '800000 100000'), 4, 'never more than the usable cores');
});

test('no quota, or no cgroup v2 file: one worker per usable core', () => {
  assert.equal(autoWorkers(8, 'max 100000\n'), 8);
  assert.equal(autoWorkers(8, undefined), 8);
  assert.equal(autoWorkers(8, 'garbage'), 8);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { humanLine } from '../../src/cli/log-lines.ts';

test('a CLI log line reads as text with its details, not as pino JSON', () => {
  const line = humanLine('pullthrough gc: ', JSON.stringify({ level: 40, time: 1764000000000, pid: 1, hostname: 'h', msg: 'store still over its cap', bytes: 1024, err: { message: 'EACCES' } }));
  assert.equal(line, 'pullthrough gc: warning: store still over its cap (bytes=1024, err=EACCES)\n');
});

test('the server log on a terminal reads as time, level, message and details', () => {
  const line = humanLine('', JSON.stringify({ level: 30, time: Date.UTC(2026, 11, 3, 8, 34, 15, 4), msg: 'request', method: 'GET', status: 200 }), { time: true });
  assert.equal(line, '08:34:15.004 info: request (method="GET", status=200)\n');
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { humanLine } from '../../src/cli/cli-logger.ts';

test('a CLI log line reads as text with its details, not as pino JSON', () => {
  const line = humanLine('gc', JSON.stringify({ level: 40, time: 1764000000000, pid: 1, hostname: 'h', msg: 'store still over its cap', bytes: 1024, err: { message: 'EACCES' } }));
  assert.equal(line, 'pullthrough gc: warning: store still over its cap (bytes=1024, err=EACCES)\n');
});

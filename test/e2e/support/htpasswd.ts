import { writeFile } from 'node:fs/promises';
import { runChecked, runCommand } from './run-command.ts';
import type { Credentials } from './token-server.ts';

/**
 * Writes an htpasswd file for distribution's `auth: htpasswd:`, which accepts bcrypt entries only.
 * node:crypto has no bcrypt, so this uses `htpasswd -B` (apache2-utils) when present and otherwise the
 * system Python's crypt module (Debian's libxcrypt does bcrypt).
 */
export async function writeHtpasswd(path: string, creds: Credentials): Promise<void> {
  const which = await runCommand('sh', ['-c', 'command -v htpasswd'], { timeoutMs: 5_000 });
  if (which.code === 0) {
    await runChecked('htpasswd', ['-Bbc', path, creds.username, creds.password]);
    return;
  }
  const script =
    'import crypt,sys,warnings\n' +
    'warnings.simplefilter("ignore")\n' +
    'print(crypt.crypt(sys.stdin.read(), crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1<<5)))';
  const res = await runChecked('/usr/bin/python3', ['-c', script], { input: creds.password, timeoutMs: 10_000 });
  await writeFile(path, `${creds.username}:${res.stdout.trim()}\n`);
}

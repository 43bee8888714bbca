// An htpasswd file of bcrypt entries for the mirror's client auth (cost 4: fast tests, same format as
// `htpasswd -B`), and the Authorization header values clients send.

import { writeFile } from 'node:fs/promises';
import bcrypt from 'bcryptjs';

export interface Account {
  username: string;
  password: string;
}

export async function writeHtpasswdFile(file: string, accounts: Account[]): Promise<void> {
  const lines = accounts.map(({ username, password }) => `${username}:${bcrypt.hashSync(password, 4).replace(/^\$2b\$/, '$2y$')}`);
  await writeFile(file, `${lines.join('\n')}\n`);
}

export function basic(account: Account): string {
  return `Basic ${Buffer.from(`${account.username}:${account.password}`).toString('base64')}`;
}

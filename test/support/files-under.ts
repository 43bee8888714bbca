// Every file below a directory (none if it does not exist): what a test looks at to see nothing was kept.

import { readdir } from 'node:fs/promises';
import path from 'node:path';

export async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((entry) => entry.isFile()).map((entry) => path.join(entry.parentPath, entry.name));
}

/**
 * A minimal ustar writer: enough for image layers (directories and regular files), deterministic byte for
 * byte so the same inputs give the same layer digest. Spec: POSIX.1-1988 ustar, 512-byte blocks.
 */

export interface TarEntry {
  /** Relative path without a leading slash; directories end with '/'. */
  path: string;
  /** File content; omitted for a directory. */
  content?: Buffer;
  mode?: number;
}

const BLOCK = 512;

function octal(value: number, width: number): string {
  // width includes the terminating NUL.
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

function header(entry: TarEntry, size: number, isDir: boolean): Buffer {
  const h = Buffer.alloc(BLOCK, 0);
  const name = Buffer.from(entry.path, 'utf8');
  if (name.length > 100) throw new Error(`tar path too long for this writer: ${entry.path}`);
  name.copy(h, 0);
  h.write(octal(entry.mode ?? (isDir ? 0o755 : 0o644), 8), 100, 'ascii');
  h.write(octal(0, 8), 108, 'ascii'); // uid
  h.write(octal(0, 8), 116, 'ascii'); // gid
  h.write(octal(size, 12), 124, 'ascii');
  // A fixed mtime (2020-01-01) keeps layers reproducible.
  h.write(octal(1577836800, 12), 136, 'ascii');
  h.write('        ', 148, 'ascii'); // checksum field counts as spaces while summing
  h.write(isDir ? '5' : '0', 156, 'ascii');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  h.write('root', 265, 'ascii');
  h.write('root', 297, 'ascii');
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(octal(sum, 7) + ' ', 148, 'ascii');
  return h;
}

export function createTar(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const isDir = entry.path.endsWith('/');
    const content = isDir ? Buffer.alloc(0) : (entry.content ?? Buffer.alloc(0));
    parts.push(header(entry, content.length, isDir));
    if (content.length > 0) {
      parts.push(content);
      const pad = (BLOCK - (content.length % BLOCK)) % BLOCK;
      if (pad > 0) parts.push(Buffer.alloc(pad, 0));
    }
  }
  parts.push(Buffer.alloc(BLOCK * 2, 0)); // end-of-archive marker
  return Buffer.concat(parts);
}

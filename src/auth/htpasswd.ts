// The accounts that may pull, from an htpasswd file with bcrypt entries (`htpasswd -B`), the format
// distribution's own `auth: htpasswd:` reads. The file is re-read when it changes, so accounts can be
// added or removed without a restart.

import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import bcrypt from 'bcryptjs';

/** bcrypt is deliberately slow (tens of ms in pure JS); a Basic-auth client sends its password on every request. */
const VERIFIED_TTL_MS = 5 * 60_000;
const MAX_VERIFIED = 10_000;

export class Htpasswd {
  private readonly file: string;
  private entries = new Map<string, string>();
  private loadedMtimeMs = -1;
  /** sha256(user, password, hash) → expiry: a successful check, so it is not redone per request. */
  private readonly verified = new Map<string, number>();

  constructor(file: string) {
    this.file = file;
    this.reloadIfChanged();
  }

  /** Bcrypt entries only: other schemes (MD5, SHA1, crypt) are weak and refused, as distribution does. */
  static parse(text: string): { entries: Map<string, string>; problems: string[] } {
    const entries = new Map<string, string>();
    const problems: string[] = [];
    text.split(/\r?\n/).forEach((line, index) => {
      const trimmed = line.trim();
      if (trimmed === '' || trimmed.startsWith('#')) return;
      const colon = trimmed.indexOf(':');
      const user = trimmed.slice(0, colon);
      const hash = trimmed.slice(colon + 1);
      if (colon <= 0 || !/^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/.test(hash)) {
        // The line number only: the line itself holds a password hash.
        problems.push(`line ${index + 1}: not a "user:bcrypt-hash" entry`);
        return;
      }
      entries.set(user, hash);
    });
    return { entries, problems };
  }

  async verify(username: string, password: string): Promise<boolean> {
    this.reloadIfChanged();
    const hash = this.entries.get(username);
    if (hash === undefined) {
      // Same cost as a wrong password, so response times do not tell which accounts exist.
      await bcrypt.compare(password, DUMMY_HASH);
      return false;
    }
    const key = createHash('sha256').update(`${username}\0${password}\0${hash}`).digest('hex');
    const now = Date.now();
    const until = this.verified.get(key);
    if (until !== undefined && until > now) return true;
    if (!(await bcrypt.compare(password, hash))) return false;
    if (this.verified.size >= MAX_VERIFIED) this.verified.clear();
    this.verified.set(key, now + VERIFIED_TTL_MS);
    return true;
  }

  private reloadIfChanged(): void {
    let mtimeMs: number;
    try {
      mtimeMs = statSync(this.file).mtimeMs;
    } catch (error) {
      // Kept accounts stay valid if the file briefly disappears (an editor's rename); at start it is fatal.
      if (this.loadedMtimeMs < 0) throw new Error(`auth.htpasswd: cannot read ${this.file} (${(error as NodeJS.ErrnoException).code})`);
      return;
    }
    if (mtimeMs === this.loadedMtimeMs) return;
    const { entries, problems } = Htpasswd.parse(readFileSync(this.file, 'utf8'));
    if (problems.length > 0 && this.loadedMtimeMs < 0) throw new Error(`auth.htpasswd: ${this.file}: ${problems.join('; ')}`);
    this.entries = entries;
    this.loadedMtimeMs = mtimeMs;
    this.verified.clear();
  }
}

/** A valid bcrypt hash of a random string, for constant-time refusal of unknown users. */
const DUMMY_HASH = '$2b$10$CwTycUXWue0Thq9StjUM0uJ8.jNQf3bYxP3fUhYy0M1y1v5V2xXbK';

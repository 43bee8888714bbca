// The accounts that may pull, from an htpasswd file with bcrypt entries (`htpasswd -B`), the format
// distribution's own `auth: htpasswd:` reads. The file is re-read when it changes, so accounts can be
// added or removed without a restart; it is looked at every RECHECK_MS at most, because bearer
// requests ask whether their account still exists on every request (issue 9).

import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import bcrypt from 'bcryptjs';

/** bcrypt is deliberately slow (tens of ms in pure JS); a Basic-auth client sends its password on every request. */
const VERIFIED_TTL_MS = 5 * 60_000;
const MAX_VERIFIED = 10_000;
/** How often the file's identity (mtime, size, inode) is looked at: a removed account is gone within this. */
export const RECHECK_MS = 2000;
/** The cost of the stand-in hash when the file has no entries (nothing to tell apart then). */
const DEFAULT_COST = 10;

const BCRYPT_ENTRY = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/;

export class Htpasswd {
  private readonly file: string;
  private entries = new Map<string, string>();
  /** mtime, size and inode of the loaded file: an editor's rename or a same-millisecond rewrite still shows. */
  private loadedIdentity: string | undefined;
  private nextCheckAt = 0;
  /** sha256(user, password, hash) → expiry: a successful check, so it is not redone per request. */
  private readonly verified = new Map<string, number>();
  /**
   * What unknown users are checked against, at the cost most of the file's entries have: with a fixed
   * cost of 10 against `htpasswd -B`'s cost-5 entries, refusing an unknown user took ~30 times longer
   * than refusing a known one, and response times told which accounts exist (issue 9).
   */
  private dummy: { cost: number; hash: string };
  private wantedDummyCost: number;

  constructor(file: string) {
    this.file = file;
    this.reload(Date.now());
    this.wantedDummyCost = dominantCost(this.entries);
    this.dummy = { cost: this.wantedDummyCost, hash: bcrypt.hashSync(randomBytes(18).toString('base64'), this.wantedDummyCost) };
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
      if (colon <= 0 || !BCRYPT_ENTRY.test(hash)) {
        // The line number only: the line itself holds a password hash.
        problems.push(`line ${index + 1}: not a "user:bcrypt-hash" entry`);
        return;
      }
      entries.set(user, hash);
    });
    return { entries, problems };
  }

  /** Whether the account is (still) in the file: a token of a removed account is refused. */
  has(username: string): boolean {
    this.reloadIfDue();
    return this.entries.has(username);
  }

  async verify(username: string, password: string): Promise<boolean> {
    this.reloadIfDue();
    const hash = this.entries.get(username);
    if (hash === undefined) {
      // The same bcrypt work as a wrong password, so response times do not tell which accounts exist.
      await bcrypt.compare(password, this.dummy.hash);
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

  private reloadIfDue(): void {
    const now = Date.now();
    if (now < this.nextCheckAt) return;
    if (this.reload(now)) this.matchDummyCost();
  }

  /** Reads the file if it changed since it was loaded; true if it did. */
  private reload(now: number): boolean {
    this.nextCheckAt = now + RECHECK_MS;
    let identity: string;
    try {
      const stat = statSync(this.file);
      identity = `${stat.mtimeMs}/${stat.size}/${stat.ino}`;
    } catch (error) {
      // Kept accounts stay valid if the file briefly disappears (an editor's rename); at start it is fatal.
      if (this.loadedIdentity === undefined) throw new Error(`auth.htpasswd: cannot read ${this.file} (${(error as NodeJS.ErrnoException).code})`);
      return false;
    }
    if (identity === this.loadedIdentity) return false;
    const { entries, problems } = Htpasswd.parse(readFileSync(this.file, 'utf8'));
    if (problems.length > 0 && this.loadedIdentity === undefined) throw new Error(`auth.htpasswd: ${this.file}: ${problems.join('; ')}`);
    this.entries = entries;
    this.loadedIdentity = identity;
    this.verified.clear();
    return true;
  }

  /**
   * After a reload whose entries have another cost: a new stand-in hash, made off the event loop's hot
   * path (cost 12 takes ~0.3 s in pure JS); the old one serves until it is ready.
   */
  private matchDummyCost(): void {
    const cost = dominantCost(this.entries);
    if (cost === this.wantedDummyCost) return;
    this.wantedDummyCost = cost;
    bcrypt.hash(randomBytes(18).toString('base64'), cost).then(
      (hash) => {
        if (this.wantedDummyCost === cost) this.dummy = { cost, hash };
      },
      // Keep the previous stand-in: a wrong cost only weakens the timing guard until the next reload.
      () => undefined,
    );
  }
}

/** The cost most entries have (the higher one on a tie): the cost a wrong password usually costs. */
export function dominantCost(entries: Map<string, string>): number {
  const counts = new Map<number, number>();
  for (const hash of entries.values()) {
    const cost = Number(BCRYPT_ENTRY.exec(hash)?.[1]);
    if (Number.isInteger(cost)) counts.set(cost, (counts.get(cost) ?? 0) + 1);
  }
  let best = DEFAULT_COST;
  let bestCount = 0;
  for (const [cost, count] of counts) {
    if (count > bestCount || (count === bestCount && cost > best)) {
      best = cost;
      bestCount = count;
    }
  }
  // bcrypt's own bounds; the file's entries match them unless hand-made.
  return Math.min(31, Math.max(4, best));
}

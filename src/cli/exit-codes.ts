// Exit statuses every `pullthrough` command uses, so scripts can tell the cases apart. Documented in the
// README ("Command line") and in `pullthrough --help`; never renumber one.

export const EXIT = {
  /** Done, nothing wrong. */
  OK: 0,
  /** The command failed (an image could not be prefetched, the store could not be read, ...). */
  FAILURE: 1,
  /** Bad command line or bad configuration: nothing was done. */
  USAGE: 2,
  /** `verify` found corrupt blobs (and removed them unless --dry-run). */
  CORRUPT: 3,
  /** `gc`: another process is sweeping the store right now; try again later. */
  BUSY: 4,
} as const;

export const EXIT_CODES_HELP = `Exit status:
  0  success
  1  failure (the command ran but did not succeed)
  2  usage or configuration error (nothing was done)
  3  verify: corrupt blobs were found
  4  gc: another process is sweeping the store now`;

/** A mistake on the command line or in the config: reported without a stack, exit status 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

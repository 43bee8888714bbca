/** What every client wrapper returns for a pull: whether it worked, the digest it resolved, and its output for failure messages. */
export interface PullResult {
  ok: boolean;
  /** The manifest digest the client resolved the reference to (an index digest for a multi-arch tag). */
  digest: string | undefined;
  output: string;
}

/** The first `Digest: sha256:...` line (docker pull), or undefined. */
export function digestFromOutput(output: string): string | undefined {
  return /Digest:\s*(sha256:[0-9a-f]{64})/.exec(output)?.[1];
}

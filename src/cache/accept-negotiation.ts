// Which manifest media types a client accepts (issue 13, item 6). The mirror always asks upstreams for
// every manifest type, so what it keeps for a tag is what a modern client gets (a multi-arch index where
// there is one); a client that did not ask for that type must not be handed it. The rule follows
// distribution's manifest handler: an index or manifest list asked for by a client that does not accept
// it is answered with the manifest for the default platform (linux/amd64), if that one's type is
// acceptable; anything else it does not accept is MANIFEST_UNKNOWN.
//
// Accept is read per RFC 9110 §12.5.1: any number of header lines, each a comma-separated list of media
// ranges (`type/subtype`, `type/*`, `*/*`) with parameters; `q` weighs a range and q=0 means "not this";
// the most specific range that matches a type decides its weight. Parameters other than q are ignored
// (as distribution does): manifest types carry none. No Accept at all accepts anything (§12.5.1); so does
// a header with no readable range in it, since it states no preference the mirror could honour.

const TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;

interface MediaRange {
  type: string;
  subtype: string;
  q: number;
}

export interface AcceptedTypes {
  /** The client states no preference (no Accept, or nothing readable in it). */
  readonly anything: boolean;
  accepts(mediaType: string): boolean;
}

export function parseAccept(header: string | readonly string[] | undefined): AcceptedTypes {
  const lines = header === undefined ? [] : typeof header === 'string' ? [header] : header;
  const ranges: MediaRange[] = [];
  for (const line of lines) {
    for (const element of line.split(',')) {
      const range = parseRange(element);
      if (range) ranges.push(range);
    }
  }
  if (ranges.length === 0) return { anything: true, accepts: () => true };
  return { anything: false, accepts: (mediaType) => weightOf(ranges, mediaType) > 0 };
}

function parseRange(element: string): MediaRange | undefined {
  const [full = '', ...parameters] = element.split(';');
  const [type, subtype, extra] = full.trim().toLowerCase().split('/');
  if (type === undefined || subtype === undefined || extra !== undefined || !TOKEN.test(type) || !TOKEN.test(subtype)) return undefined;
  if (type === '*' && subtype !== '*') return undefined;
  let q = 1;
  for (const parameter of parameters) {
    const [name, value] = parameter.split('=').map((part) => part.trim());
    if (name?.toLowerCase() !== 'q') continue;
    // qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ); anything else makes the range unreadable.
    if (value === undefined || !/^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/.test(value)) return undefined;
    q = Number(value);
    // The first q ends the media-range's parameters; what follows is accept-ext.
    break;
  }
  return { type, subtype, q };
}

// The q of the most specific range that matches (exact, then type/*, then any); 0 when none does.
function weightOf(ranges: readonly MediaRange[], mediaType: string): number {
  const [type = '', subtype = ''] = mediaType.split(';', 1)[0]?.trim().toLowerCase().split('/') ?? [];
  let best: { specificity: number; q: number } | undefined;
  for (const range of ranges) {
    const specificity = range.type === type && range.subtype === subtype ? 2 : range.type === type && range.subtype === '*' ? 1 : range.type === '*' ? 0 : -1;
    if (specificity < 0) continue;
    // Same specificity twice (a list naming a type twice): the higher weight, so one q=0 does not undo an explicit ask.
    if (!best || specificity > best.specificity || (specificity === best.specificity && range.q > best.q)) best = { specificity, q: range.q };
  }
  return best?.q ?? 0;
}

/** distribution's default platform for clients that cannot read an index (registry/handlers/manifests.go). */
export const DEFAULT_PLATFORM = { os: 'linux', architecture: 'amd64' } as const;

export interface IndexEntry {
  digest: string;
  mediaType: string;
}

/**
 * The entry of an image index / manifest list for the default platform: the first linux/amd64 one (a
 * variant is ignored, as distribution does). Undefined when there is none or the bytes are no index.
 */
export function defaultPlatformManifest(index: Buffer): IndexEntry | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(index.toString('utf8'));
  } catch {
    return undefined;
  }
  const manifests = (parsed as { manifests?: unknown } | null)?.manifests;
  if (!Array.isArray(manifests)) return undefined;
  for (const entry of manifests as unknown[]) {
    const { digest, mediaType, platform } = (entry ?? {}) as { digest?: unknown; mediaType?: unknown; platform?: { os?: unknown; architecture?: unknown } };
    if (platform?.os !== DEFAULT_PLATFORM.os || platform.architecture !== DEFAULT_PLATFORM.architecture) continue;
    if (typeof digest !== 'string' || !/^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/.test(digest) || typeof mediaType !== 'string') return undefined;
    return { digest, mediaType };
  }
  return undefined;
}

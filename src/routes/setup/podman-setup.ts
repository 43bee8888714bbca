// Podman, Buildah, CRI-O, skopeo (containers-registries.conf): one drop-in file under registries.conf.d
// with a [[registry]] per mirrored host whose mirror is <mirror>/<upstream name>. Such a location makes
// the client ask /v2/<upstream name>/<repository>/..., routed by the name's first segment.

import type { MirrorAddress } from '../mirror-address.ts';
import { type MirroredUpstream, shellQuote } from './mirrored-hosts.ts';

export const DROP_IN_NAME = '50-pullthrough.conf';

export function registriesConf(address: MirrorAddress, upstreams: readonly MirroredUpstream[]): string {
  const blocks = upstreams.flatMap((upstream) =>
    upstream.hosts.map((host) =>
      [
        '[[registry]]',
        `prefix = ${JSON.stringify(host)}`,
        `location = ${JSON.stringify(host)}`,
        '',
        '[[registry.mirror]]',
        `location = ${JSON.stringify(`${address.host}/${upstream.name}`)}`,
        ...(address.scheme === 'http' ? ['insecure = true'] : []),
      ].join('\n'),
    ),
  );
  return [`# pullthrough: pulls go through the mirror at ${address.url} (from ${address.url}/setup/podman)`, ...blocks].join('\n\n');
}

export function podmanScript(address: MirrorAddress, conf: string): string {
  return `#!/bin/sh
# pullthrough: make podman, buildah, CRI-O and skopeo pull through the mirror at ${address.url}
# (a registries.conf drop-in). Running it again changes nothing. From ${address.url}/setup/podman.sh
set -eu

DIR="\${REGISTRIES_CONF_D:-/etc/containers/registries.conf.d}"
FILE="$DIR/${DROP_IN_NAME}"
CONTENT=${shellQuote(conf)}

if ! mkdir -p "$DIR" 2>/dev/null || [ ! -w "$DIR" ]; then
  echo "pullthrough: cannot write to $DIR: run as root (curl -fsSL ${address.url}/setup/podman.sh | sudo sh)" >&2
  exit 1
fi
if [ -f "$FILE" ] && [ "$(cat "$FILE")" = "$CONTENT" ]; then
  echo "pullthrough: $FILE is already up to date; nothing changed."
  exit 0
fi
printf '%s\\n' "$CONTENT" > "$FILE.pullthrough-new"
mv "$FILE.pullthrough-new" "$FILE"
echo "pullthrough: wrote $FILE. New pulls use it at once (rootless podman reads it too)."
echo "Entries here replace those for the same prefix in /etc/containers/registries.conf."
`;
}

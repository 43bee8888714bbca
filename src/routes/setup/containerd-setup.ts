// containerd (Kubernetes nodes, nerdctl, BuildKit, Docker's containerd image store): one hosts.toml per
// registry host under certs.d, for every configured upstream, so every registry is mirrored with no
// change to image names. The mirror URL carries the upstream's name as a path (/ghcr -> /ghcr/v2/...),
// which routes unambiguously whatever ?ns= containerd adds. `server` stays the real registry: containerd
// falls back to it if the mirror is down.

import type { MirrorAddress } from '../mirror-address.ts';
import { type MirroredUpstream, shellQuote } from './mirrored-hosts.ts';

export interface HostsFile {
  /** Registry host, the directory name under certs.d. */
  host: string;
  upstream: string;
  toml: string;
}

export const HOSTS_MARKER = '# pullthrough:';

export function hostsFiles(address: MirrorAddress, upstreams: readonly MirroredUpstream[]): HostsFile[] {
  return upstreams.flatMap((upstream) =>
    upstream.hosts.map((host) => ({
      host,
      upstream: upstream.name,
      toml: [
        `${HOSTS_MARKER} ${host} images are pulled through the mirror at ${address.url} (from ${address.url}/setup/containerd)`,
        `server = ${JSON.stringify(upstream.url)}`,
        '',
        `[host.${JSON.stringify(`${address.url}/${upstream.name}`)}]`,
        '  capabilities = ["pull", "resolve"]',
      ].join('\n'),
    })),
  );
}

export function containerdScript(address: MirrorAddress, files: readonly HostsFile[]): string {
  const writes = files.map((file) => `write_hosts ${shellQuote(file.host)} ${shellQuote(file.toml)}`).join('\n');
  return `#!/bin/sh
# pullthrough: make containerd pull through the mirror at ${address.url}: one hosts.toml per registry
# host (${files.length} files) under certs.d. Running it again changes nothing. From ${address.url}/setup/containerd.sh
set -eu

CERTS_D="\${CONTAINERD_CERTS_D:-/etc/containerd/certs.d}"
CONFIG="\${CONTAINERD_CONFIG:-/etc/containerd/config.toml}"
WRITTEN=0
UNCHANGED=0

if ! mkdir -p "$CERTS_D" 2>/dev/null || [ ! -w "$CERTS_D" ]; then
  echo "pullthrough: cannot write to $CERTS_D: run as root (curl -fsSL ${address.url}/setup/containerd.sh | sudo sh)" >&2
  exit 1
fi

write_hosts() {
  dir="$CERTS_D/$1"
  file="$dir/hosts.toml"
  if [ -f "$file" ] && [ "$(cat "$file")" = "$2" ]; then
    UNCHANGED=$((UNCHANGED + 1))
    return
  fi
  mkdir -p "$dir"
  if [ -f "$file" ] && ! grep -q '^${HOSTS_MARKER}' "$file"; then
    cp -p "$file" "$file.pullthrough.bak"
    echo "pullthrough: your previous $file is kept as $file.pullthrough.bak"
  fi
  printf '%s\\n' "$2" > "$file.pullthrough-new"
  mv "$file.pullthrough-new" "$file"
  echo "pullthrough: wrote $file"
  WRITTEN=$((WRITTEN + 1))
}

${writes}

echo "pullthrough: $WRITTEN hosts.toml written, $UNCHANGED already up to date, in $CERTS_D."
if [ -f "$CONFIG" ] && grep -q 'config_path' "$CONFIG"; then
  echo "containerd's $CONFIG sets config_path: make sure it is \\"$CERTS_D\\". Pulls use the new files at once."
else
  echo "Now point containerd at $CERTS_D (once) in $CONFIG, then restart containerd:"
  echo '  [plugins."io.containerd.grpc.v1.cri".registry]            # containerd 1.x (Kubernetes nodes)'
  echo "    config_path = \\"$CERTS_D\\""
  echo '  [plugins."io.containerd.cri.v1.images".registry]          # containerd 2.x'
  echo "    config_path = \\"$CERTS_D\\""
  echo "nerdctl reads /etc/containerd/certs.d by itself; ctr needs --hosts-dir $CERTS_D."
fi
`;
}

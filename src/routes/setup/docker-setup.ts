// dockerd: "registry-mirrors" in daemon.json (Docker Hub images only; dockerd has no mirrors for other
// registries). The script merges into the existing file with python3, node or jq — whichever exists —
// so no other key is lost, and refuses rather than guess when none does. dockerd sends registry-mirrors
// requests with no upstream in them, so they reach the default upstream: when that is not Docker Hub the
// script leaves registry-mirrors alone (issue 12) and only adds "insecure-registries" for a plain-HTTP
// mirror, which rewritten names (MIRROR/<upstream>/image) need.

import type { MirrorAddress } from '../mirror-address.ts';
import { shellQuote } from './mirrored-hosts.ts';

export interface DockerSetup {
  /** What to merge into daemon.json; empty when dockerd needs no change. */
  daemonJson: string;
  script: string;
}

/** `registryMirror`: whether the default upstream is Docker Hub, so registry-mirrors sends it docker.io names. */
export function dockerSetup(address: MirrorAddress, registryMirror: boolean): DockerSetup {
  const insecure = address.scheme === 'http' ? address.host : '';
  const mirror = registryMirror ? address.url : '';
  const snippet: Record<string, string[]> = {};
  if (mirror) snippet['registry-mirrors'] = [mirror];
  if (insecure) snippet['insecure-registries'] = [insecure];
  return { daemonJson: Object.keys(snippet).length ? `${JSON.stringify(snippet, null, 2)}\n` : '', script: script(address, mirror, insecure) };
}

const PYTHON_MERGE = `import json, sys
path, out, mirror, insecure = sys.argv[1:5]
try:
    with open(path) as f:
        text = f.read()
except FileNotFoundError:
    text = ""
try:
    config = json.loads(text) if text.strip() else {}
except ValueError as e:
    sys.exit("pullthrough: %s is not valid JSON (%s); nothing changed" % (path, e))
if not isinstance(config, dict):
    sys.exit("pullthrough: %s does not hold a JSON object; nothing changed" % path)
changes = []
def add(key, value, first):
    current = config.get(key, [])
    if not isinstance(current, list):
        sys.exit('pullthrough: "%s" in %s is not a list; nothing changed' % (key, path))
    if value in current:
        return
    config[key] = [value] + current if first else current + [value]
    changes.append('added %s to "%s"' % (value, key))
if mirror:
    add("registry-mirrors", mirror, True)
if insecure:
    add("insecure-registries", insecure, False)
if changes:
    with open(out, "w") as f:
        json.dump(config, f, indent=2)
        f.write("\\n")
for change in changes:
    print(change)`;

const NODE_MERGE = `const fs = require("fs");
const [path, out, mirror, insecure] = process.argv.slice(2);
const fail = (message) => { console.error("pullthrough: " + message + "; nothing changed"); process.exit(1); };
let text = "";
try { text = fs.readFileSync(path, "utf8"); } catch (e) { if (e.code !== "ENOENT") throw e; }
let config;
try { config = text.trim() ? JSON.parse(text) : {}; } catch (e) { fail(path + " is not valid JSON (" + e.message + ")"); }
if (config === null || typeof config !== "object" || Array.isArray(config)) fail(path + " does not hold a JSON object");
const changes = [];
const add = (key, value, first) => {
  const current = config[key] === undefined ? [] : config[key];
  if (!Array.isArray(current)) fail('"' + key + '" in ' + path + " is not a list");
  if (current.includes(value)) return;
  config[key] = first ? [value, ...current] : [...current, value];
  changes.push("added " + value + ' to "' + key + '"');
};
if (mirror) add("registry-mirrors", mirror, true);
if (insecure) add("insecure-registries", insecure, false);
if (changes.length) fs.writeFileSync(out, JSON.stringify(config, null, 2) + "\\n");
for (const change of changes) console.log(change);`;

const JQ_MERGE = `if type != "object" then error("does not hold a JSON object") else . end
  | if $m == "" or (((.["registry-mirrors"] // []) | index([$m])) != null) then . else .["registry-mirrors"] = [$m] + (.["registry-mirrors"] // []) end
  | if $i == "" or (((.["insecure-registries"] // []) | index([$i])) != null) then . else .["insecure-registries"] = (.["insecure-registries"] // []) + [$i] end`;

function script(address: MirrorAddress, mirror: string, insecure: string): string {
  const what = mirror
    ? `pull Docker Hub images through the mirror at ${address.url}\n# ("registry-mirrors" in daemon.json)`
    : `accept the plain-HTTP mirror at ${address.url} for rewritten names\n# (${address.host}/<upstream>/<image>; "insecure-registries" in daemon.json)`;
  return `#!/bin/sh
# pullthrough: make dockerd ${what}. Merges into the existing file and keeps every other key;
# running it again changes nothing. From ${address.url}/setup/docker.sh
set -eu

MIRROR=${shellQuote(mirror)}
INSECURE=${shellQuote(insecure)}
FILE="\${DOCKER_DAEMON_JSON:-/etc/docker/daemon.json}"
TMP="$FILE.pullthrough-new"

if [ -z "$MIRROR" ] && [ -z "$INSECURE" ]; then
  echo "pullthrough: dockerd needs no change for ${address.url}: pull with rewritten names, e.g. docker pull ${address.host}/<upstream>/<image>; nothing changed."
  exit 0
fi

if command -v python3 >/dev/null 2>&1; then TOOL=python3
elif command -v node >/dev/null 2>&1; then TOOL=node
elif command -v jq >/dev/null 2>&1; then TOOL=jq
else
  echo "pullthrough: cannot merge into $FILE safely: none of python3, node or jq is installed." >&2
  echo "Install one of them and run this again, or add this to $FILE by hand:" >&2
  echo "  \${MIRROR:+\\"registry-mirrors\\": [\\"$MIRROR\\"]}\${MIRROR:+\${INSECURE:+, }}\${INSECURE:+\\"insecure-registries\\": [\\"$INSECURE\\"]}" >&2
  exit 1
fi

DIR=$(dirname "$FILE")
if ! mkdir -p "$DIR" 2>/dev/null || [ ! -w "$DIR" ] || { [ -e "$FILE" ] && [ ! -w "$FILE" ]; }; then
  echo "pullthrough: cannot write $FILE: run as root (curl -fsSL ${address.url}/setup/docker.sh | sudo sh)" >&2
  exit 1
fi
rm -f "$TMP"
trap 'rm -f "$TMP"' EXIT

case $TOOL in
  python3)
    CHANGES=$(python3 - "$FILE" "$TMP" "$MIRROR" "$INSECURE" <<'PULLTHROUGH_PY'
${PYTHON_MERGE}
PULLTHROUGH_PY
)
    ;;
  node)
    CHANGES=$(node - "$FILE" "$TMP" "$MIRROR" "$INSECURE" <<'PULLTHROUGH_JS'
${NODE_MERGE}
PULLTHROUGH_JS
)
    ;;
  jq)
    if [ -s "$FILE" ]; then SRC="$FILE"; else SRC=; fi
    if [ -n "$SRC" ] && ! jq -e 'type == "object"' "$SRC" >/dev/null 2>&1; then
      echo "pullthrough: $FILE is not a JSON object; nothing changed" >&2
      exit 1
    fi
    CHANGES=
    if [ -n "$MIRROR" ] && { [ -z "$SRC" ] || ! jq -e --arg m "$MIRROR" '(.["registry-mirrors"] // []) | index([$m]) != null' "$SRC" >/dev/null; }; then
      CHANGES="added $MIRROR to \\"registry-mirrors\\""
    fi
    if [ -n "$INSECURE" ] && { [ -z "$SRC" ] || ! jq -e --arg i "$INSECURE" '(.["insecure-registries"] // []) | index([$i]) != null' "$SRC" >/dev/null; }; then
      CHANGES="\${CHANGES:+$CHANGES
}added $INSECURE to \\"insecure-registries\\""
    fi
    if [ -n "$CHANGES" ]; then
      { if [ -n "$SRC" ]; then cat "$SRC"; else echo '{}'; fi; } | jq --arg m "$MIRROR" --arg i "$INSECURE" '${JQ_MERGE}' > "$TMP"
    fi
    ;;
esac

if [ -z "$CHANGES" ]; then
  echo "pullthrough: $FILE already has what ${address.url} needs; nothing changed."
  exit 0
fi
if [ -e "$FILE" ]; then
  cp -p "$FILE" "$FILE.pullthrough.bak"
  echo "pullthrough: previous version kept as $FILE.pullthrough.bak"
fi
mv "$TMP" "$FILE"
echo "pullthrough: updated $FILE (with $TOOL):"
printf '%s\\n' "$CHANGES" | sed 's/^/  /'
echo "Restart dockerd to apply: sudo systemctl restart docker"
echo "  (running containers stop unless \\"live-restore\\" is set in $FILE)"
if [ -n "$MIRROR" ]; then echo "Check: docker info | grep -A1 'Registry Mirrors'"; else echo "Check: docker info | grep -A2 'Insecure Registries'"; fi
`;
}

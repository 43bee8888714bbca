#!/usr/bin/env node
// The `pullthrough` command (package.json "bin"; `npx pullthrough` in a checkout, `npm link` to put it on
// PATH). It runs the compiled CLI in dist/ when that build is at least as new as every source file — fast,
// no TypeScript compiler at start (issue 12) — and the TypeScript sources through tsx otherwise, so a
// checkout never runs a stale build. The container image has no src/ and always runs dist/.

import { existsSync, readdirSync, statSync } from 'node:fs';
import { URL, fileURLToPath } from 'node:url';

const compiled = new URL('../dist/cli/main.js', import.meta.url);
const source = new URL('../src/cli/main.ts', import.meta.url);

/** Newest modification time of any file below a directory. */
function newestIn(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) newest = Math.max(newest, statSync(`${entry.parentPath ?? entry.path}/${entry.name}`).mtimeMs);
  }
  return newest;
}

function buildIsCurrent() {
  if (!existsSync(compiled)) return false;
  if (!existsSync(source)) return true;
  return statSync(compiled).mtimeMs >= newestIn(fileURLToPath(new URL('../src', import.meta.url)));
}

let register;
if (!buildIsCurrent()) {
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    // tsx is a dev dependency: absent after `npm ci --omit=dev`; then the build is all there is.
  }
}
if (register) {
  register();
  const { main } = await import(source.href);
  main();
} else {
  const { main } = await import(compiled.href);
  main();
}

#!/usr/bin/env node
// The `pullthrough` command (package.json "bin"). In a development checkout (src/ present, tsx installed)
// it runs the TypeScript sources through tsx, so it never runs a stale build; otherwise the compiled CLI
// in dist/ (npm run build; the container image has no src/ and no tsx).

import { existsSync } from 'node:fs';
import { URL } from 'node:url';

const source = new URL('../src/cli/main.ts', import.meta.url);
let register;
if (existsSync(source)) {
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    // tsx is a dev dependency: absent after `npm ci --omit=dev`.
  }
}
if (register) {
  register();
  const { main } = await import(source.href);
  main();
} else {
  const { main } = await import(new URL('../dist/cli/main.js', import.meta.url).href);
  main();
}

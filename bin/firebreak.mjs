#!/usr/bin/env node
// The `firebreak` command. Runs the compiled CLI (dist/, built by `npm install` or `npm run build`:
// scripts/build-cli.mjs) when it is newer than every source it was built from; otherwise — a dev
// checkout with edited sources, or no build yet — runs the TypeScript through tsx, which is slower
// to start, and says how to compile it.
import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath, URL } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Why dist/ cannot be used, or undefined when it is current. */
function staleReason() {
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(path.join(ROOT, 'dist/firebreak.inputs.json'), 'utf8'));
  } catch {
    return 'it is not built';
  }
  for (const input of manifest.inputs) {
    let mtimeMs;
    try {
      ({ mtimeMs } = statSync(path.join(ROOT, input)));
    } catch {
      return `${input} is gone`;
    }
    if (mtimeMs > manifest.builtAt) return `${input} changed since`;
  }
  return undefined;
}

const reason = staleReason();
if (reason === undefined) {
  // Required, not imported: importing CommonJS from an ES module costs an export-name scan of it.
  createRequire(import.meta.url)('../dist/firebreak.cjs');
} else {
  process.stderr.write(
    `firebreak: running from the TypeScript sources (slower start): the compiled CLI is out of date (${reason}); \`npm run build\` compiles it\n`,
  );
  const { register } = await import('tsx/esm/api');
  register();
  await import('../cli/main.ts');
}

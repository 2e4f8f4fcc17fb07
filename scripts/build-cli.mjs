// Compiles the `firebreak` command to JavaScript in dist/ (run by `npm install` through `prepare`,
// and by `npm run build`), so the command starts without transpiling TypeScript: bin/firebreak.mjs
// runs dist/firebreak.js when it is newer than every source it was built from.
//
// Dependencies stay in node_modules (not bundled), and each command is its own chunk
// (cli/commands/index.ts imports them lazily), so `firebreak --help` loads none of them.
// dist/ sits one level under the root, as the sources do, so paths the code builds from
// import.meta.url (worker/bundle.ts finds workflows/ as `..`) stay right.
import console from 'node:console';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath, URL } from 'node:url';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const DIST = path.join(ROOT, 'dist');
/** What bin/firebreak.mjs reads: when the build ran and from which sources. */
export const MANIFEST = path.join(DIST, 'firebreak.inputs.json');

export async function buildCli() {
  const builtAt = Date.now();
  await rm(DIST, { recursive: true, force: true });
  await mkdir(DIST, { recursive: true });
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: { firebreak: 'cli/main.ts' },
    outdir: DIST,
    outExtension: { '.js': '.cjs' },
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    // CommonJS: an ES module importing a CommonJS package makes Node scan its source for export
    // names first (cjs-module-lexer), which for Temporal's generated protobuf code costs more than
    // running it. Code that asks import.meta.url where it is gets this file's URL; dist/ is one
    // level under the root, as the sources are, so `..` from it is still the root.
    define: { 'import.meta.url': '__firebreakModuleUrl' },
    banner: { js: "const __firebreakModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'warning',
  });
  const inputs = Object.keys(result.metafile.inputs).sort();
  // Written last: a build that failed half-way leaves no manifest, so the bin falls back to tsx.
  await writeFile(MANIFEST, `${JSON.stringify({ builtAt, inputs }, null, 1)}\n`);
  return { inputs: inputs.length, outputs: Object.keys(result.metafile.outputs).length };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const started = Date.now();
  // An image build installs its dependencies before it copies the sources in (Dockerfile): there
  // is nothing to compile yet, and the Dockerfile runs `npm run build` once they are there.
  if (!existsSync(path.join(ROOT, 'cli/main.ts'))) {
    console.error('firebreak: no sources to compile yet (cli/main.ts is absent); `npm run build` compiles them');
    process.exit(0);
  }
  buildCli()
    .then(({ inputs, outputs }) =>
      console.error(
        `firebreak: compiled the CLI (${inputs} sources → ${outputs} files in dist/) in ${Date.now() - started} ms`,
      ),
    )
    .catch((err) => {
      console.error(err);
      process.exit(1);
    });
}

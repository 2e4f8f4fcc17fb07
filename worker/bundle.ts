/**
 * The workflow bundle the worker loads. Production workers load a prebuilt bundle
 * (FIREBREAK_WORKFLOW_BUNDLE, made by `npm run build:workflows`); `firebreak start` builds one and
 * caches it under ~/.cache/firebreak/bundles keyed by the workflow sources, so a warm start skips
 * webpack.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger as TemporalLogger } from '@temporalio/common';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { temporalLogger, type Logger } from '../config/logger';
import { firebreakCacheDir } from '../scripts/temporal-bin';
import { writeFileAtomically } from './files';
import { WORKFLOW_TRACING_MODULE } from './tracing';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const WORKFLOWS_ENTRY = path.join(ROOT, 'workflows', 'index.ts');
/** Everything the workflow bundle can import (lint keeps workflow code to these: eslint.config.mjs). */
const BUNDLED_DIRS = ['workflows', 'domain', 'common'];
/**
 * The workflow interceptors every bundle carries: OpenTelemetry's (worker/tracing.ts), so a trace
 * runs through the workflow to its activities whenever the worker exports traces. Part of the
 * build: a prebuilt bundle ignores the worker's own interceptor modules.
 */
export const WORKFLOW_INTERCEPTOR_MODULES = [WORKFLOW_TRACING_MODULE];
/** The packages whose code goes into the bundle besides the sources; their versions key the cache. */
const BUNDLED_PACKAGES = ['@temporalio/worker', '@temporalio/interceptors-opentelemetry'];

async function sourcesHash(): Promise<string> {
  const hash = createHash('sha256');
  for (const name of BUNDLED_PACKAGES) {
    const { version } = JSON.parse(await readFile(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8'));
    hash.update(name === '@temporalio/worker' ? `sdk ${version}\n` : `${name} ${version}\n`);
  }
  for (const dir of BUNDLED_DIRS) {
    const entries = await readdir(path.join(ROOT, dir), { recursive: true, withFileTypes: true });
    const files = entries
      .filter((e) => e.isFile() && e.name.endsWith('.ts'))
      .map((e) => path.join(e.parentPath, e.name))
      .sort();
    for (const file of files) hash.update(`${path.relative(ROOT, file)}\n`).update(await readFile(file));
  }
  return hash.digest('hex').slice(0, 16);
}

/** The bundler's records (webpack's warnings and errors, the bundle's size) go to `logger`. */
export async function buildWorkflowBundle(logger: TemporalLogger = new DefaultLogger('WARN')): Promise<string> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: WORKFLOWS_ENTRY,
    workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES,
    logger,
  });
  return code;
}

/** Returns bundle code from FIREBREAK_WORKFLOW_BUNDLE, the cache, or a fresh build (then cached). */
export async function loadWorkflowBundle(prebuiltPath: string | undefined, logger: Logger) {
  if (prebuiltPath) return { code: await readFile(prebuiltPath, 'utf8') };
  const cacheFile = path.join(firebreakCacheDir(), 'bundles', `workflows-${await sourcesHash()}.js`);
  if (existsSync(cacheFile)) return { code: await readFile(cacheFile, 'utf8') };
  const bundleLogger = logger.child({ component: 'bundle' });
  bundleLogger.info('Bundling workflows (cached for the next start)...');
  const code = await buildWorkflowBundle(temporalLogger(bundleLogger));
  await writeFileAtomically(cacheFile, code);
  return { code };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const out = process.argv[2] ?? path.join(firebreakCacheDir(), 'bundles', 'workflow-bundle.js');
  buildWorkflowBundle()
    .then(async (code) => {
      await mkdir(path.dirname(out), { recursive: true });
      await writeFile(out, code);
      console.log(out);
    })
    .catch((err) => {
      console.error(err);
      process.exit(1);
    });
}

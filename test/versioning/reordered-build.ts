/**
 * A second build of the workflows whose P0 runbook issues its commands in another order: the
 * quick diagnostics schedule the metrics read before the recent events. Made from a copy of the
 * bundled sources with that one edit, bundled the way `firebreak start` bundles. It stands for a
 * deploy of runbook code that would break incidents started on the build before it — the
 * versioning test runs both builds side by side, the replay test shows the divergence is caught.
 */
import { cp, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** What the workflow bundle imports (worker/bundle.ts BUNDLED_DIRS) plus the type-only imports' homes. */
const COPIED_DIRS = ['workflows', 'domain', 'common', 'runbooks', 'activities'];

const IN_ORDER = `      recentEvents(incident),\n      serviceMetrics(incident),\n`;
const REORDERED = `      serviceMetrics(incident),\n      recentEvents(incident),\n`;

/** Bundles the reordered build; returns its code. */
export async function bundleReorderedBuild(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'firebreak-build-b-'));
  try {
    for (const name of COPIED_DIRS) await cp(path.join(ROOT, name), path.join(dir, name), { recursive: true });
    await symlink(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
    const file = path.join(dir, 'workflows', 'p0-response.ts');
    const source = await readFile(file, 'utf8');
    if (!source.includes(IN_ORDER)) throw new Error(`workflows/p0-response.ts no longer has:\n${IN_ORDER}`);
    // Every path that reads them (older incidents' and new ones') reads them in the other order.
    await writeFile(file, source.replaceAll(IN_ORDER, REORDERED));
    const { code } = await bundleWorkflowCode({
      workflowsPath: path.join(dir, 'workflows', 'index.ts'),
      logger: new DefaultLogger('WARN'),
    });
    return code;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

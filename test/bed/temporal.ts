/**
 * Test-bed component: one real Temporal dev server (the same binary and set-up `firebreak start`
 * uses) for the whole test run.
 */
import { prepareNamespace, startDevServer } from '../../worker/devserver';
import { freePort } from './ports';

export async function startTemporal(opts: { workDir: string; log: (msg: string) => void }) {
  const port = await freePort();
  const server = await startDevServer({
    dataDir: opts.workDir,
    port,
    uiPort: await freePort(),
    log: opts.log,
    // Benchmarks compare SQLite settings: FIREBREAK_TEST_SQLITE_PRAGMAS="journal_mode=delete,synchronous=full".
    ...sqliteOverride(process.env.FIREBREAK_TEST_SQLITE_PRAGMAS),
  });
  return {
    env: {
      FIREBREAK_TEST_TEMPORAL_ADDRESS: server.address,
      FIREBREAK_TEST_TEMPORAL_NAMESPACE: server.namespace,
      FIREBREAK_TEST_TEMPORAL_UI: server.uiUrl,
      FIREBREAK_TEST_TEMPORAL_PID: String(server.process.pid),
      FIREBREAK_TEST_TEMPORAL_KIND: 'dev',
    },
    stop: () => server.stop(),
  };
}

/**
 * For scripts that run inside `npm test`/`npm run bench` or alone (benchmarks, fixture
 * recording): uses the bed's server when FIREBREAK_TEST_TEMPORAL_ADDRESS is set, otherwise starts
 * one in a temporary directory and points the environment at it. `stop()` undoes what it started.
 * The bed's server is prepared the way `firebreak start` prepares an external cluster
 * (prepareNamespace: idempotent), since on the cluster on PostgreSQL nothing else may have yet.
 */
export async function ensureTemporal(log: (msg: string) => void): Promise<{ stop(): Promise<void> }> {
  const address = process.env.FIREBREAK_TEST_TEMPORAL_ADDRESS;
  if (address) {
    await prepareNamespace(address, process.env.FIREBREAK_TEST_TEMPORAL_NAMESPACE ?? 'default', log);
    return { stop: async () => undefined };
  }
  const { mkdtemp, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const path = await import('node:path');
  const workDir = await mkdtemp(path.join(tmpdir(), 'firebreak-temporal-'));
  const server = await startTemporal({ workDir, log });
  Object.assign(process.env, server.env);
  return {
    stop: async () => {
      await server.stop();
      await rm(workDir, { recursive: true, force: true });
    },
  };
}

function sqliteOverride(list: string | undefined): { sqlitePragmaOverride?: Record<string, string> } {
  if (!list) return {};
  const pairs = list.split(',').map((pair) => pair.trim().split('='));
  if (pairs.some((pair) => pair.length !== 2 || !pair[0] || !pair[1])) {
    throw new Error(`FIREBREAK_TEST_SQLITE_PRAGMAS must be name=value[,name=value...], got ${JSON.stringify(list)}`);
  }
  return { sqlitePragmaOverride: Object.fromEntries(pairs) };
}

/**
 * Test-bed component: one real Temporal dev server (the same binary and set-up `firebreak start`
 * uses) for the whole test run.
 */
import { startDevServer } from '../../worker/devserver';
import { freePort } from './ports';

export async function startTemporal(opts: { workDir: string; log: (msg: string) => void }) {
  const port = await freePort();
  const server = await startDevServer({
    dataDir: opts.workDir,
    port,
    uiPort: await freePort(),
    log: opts.log,
  });
  return {
    env: {
      FIREBREAK_TEST_TEMPORAL_ADDRESS: server.address,
      FIREBREAK_TEST_TEMPORAL_NAMESPACE: server.namespace,
      FIREBREAK_TEST_TEMPORAL_UI: server.uiUrl,
    },
    stop: () => server.stop(),
  };
}

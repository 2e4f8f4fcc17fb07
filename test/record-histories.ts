/**
 * Regenerates test/fixtures/histories/<runbook>.json: each runbook's happy path run on a real dev
 * server with the typed fakes, its history saved for test/replay.test.ts. Re-record only when a
 * change is meant to be incompatible (and then guard running incidents with `patched()`).
 *
 *   node --import tsx test/record-histories.ts      (uses FIREBREAK_TEST_TEMPORAL_ADDRESS, or starts a dev server)
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { RUNBOOK_IDS } from '../common/types';
import { connectTestClient, runTestWorker, uniqueTaskQueue } from './bed/worker';
import { FakeWorld } from './workflows/fakes';
import { HAPPY_PATHS } from './workflows/scenarios';

export const HISTORIES_DIR = fileURLToPath(new URL('./fixtures/histories/', import.meta.url));

async function main(): Promise<void> {
  let stopServer: (() => Promise<void>) | undefined;
  let workDir: string | undefined;
  if (!process.env.FIREBREAK_TEST_TEMPORAL_ADDRESS) {
    const { startTemporal } = await import('./bed/temporal');
    workDir = await mkdtemp(path.join(tmpdir(), 'firebreak-record-'));
    const server = await startTemporal({ workDir, log: (line) => console.error(line) });
    Object.assign(process.env, server.env);
    stopServer = server.stop;
  }
  const { client, connection } = await connectTestClient();
  const worker = await runTestWorker({
    activities: new FakeWorld({
      oomKills: [{ pod: 'api-0', container: 'app', source: 'containerStatus' }],
    }).activities(),
    taskQueue: uniqueTaskQueue('record'),
  });
  try {
    await mkdir(HISTORIES_DIR, { recursive: true });
    for (const runbook of RUNBOOK_IDS) {
      const handle = await HAPPY_PATHS[runbook](client, worker.taskQueue);
      await handle.result();
      const file = path.join(HISTORIES_DIR, `${runbook}.json`);
      await writeFile(file, `${historyToJSON(await handle.fetchHistory())}\n`);
      console.log(`${runbook}: ${file}`);
    }
  } finally {
    await worker.stop();
    await connection.close();
    await stopServer?.();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

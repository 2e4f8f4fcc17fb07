/**
 * Regenerates test/fixtures/histories/<runbook>.json: each runbook's happy path run on a real dev
 * server with the typed fakes, its history saved for test/replay.test.ts. Re-record only when a
 * change is meant to be incompatible (and then guard running incidents with `patched()`).
 *
 *   node --import tsx test/record-histories.ts [runbook…]   (all by default; uses
 *   FIREBREAK_TEST_TEMPORAL_ADDRESS, or starts a dev server)
 *
 * A history kept for an older path of a runbook is saved beside it as `<runbook>-<what>.json`
 * (e.g. oom-triage-heap-in-pod.json): replay.test.ts replays every file here.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { RUNBOOK_IDS } from '../common/types';
import { connectTestClient, runTestWorker, uniqueTaskQueue } from './bed/worker';
import { FakeWorld } from './workflows/fakes';
import { HAPPY_PATHS } from './workflows/scenarios';
import { ensureTemporal } from './bed/temporal';

export const HISTORIES_DIR = fileURLToPath(new URL('./fixtures/histories/', import.meta.url));

async function main(): Promise<void> {
  const temporal = await ensureTemporal((line) => console.error(line));
  const { client, connection } = await connectTestClient();
  const worker = await runTestWorker({
    activities: new FakeWorld({
      oomKills: [{ pod: 'api-0', container: 'app', source: 'containerStatus' }],
    }).activities(),
    taskQueue: uniqueTaskQueue('record'),
  });
  try {
    await mkdir(HISTORIES_DIR, { recursive: true });
    const chosen = process.argv.slice(2);
    const unknown = chosen.filter((name) => !(RUNBOOK_IDS as readonly string[]).includes(name));
    if (unknown.length) throw new Error(`unknown runbook(s): ${unknown.join(', ')}`);
    for (const runbook of RUNBOOK_IDS.filter((id) => chosen.length === 0 || chosen.includes(id))) {
      const handle = await HAPPY_PATHS[runbook](client, worker.taskQueue);
      await handle.result();
      const file = path.join(HISTORIES_DIR, `${runbook}.json`);
      await writeFile(file, `${historyToJSON(await handle.fetchHistory())}\n`);
      console.log(`${runbook}: ${file}`);
    }
  } finally {
    await worker.stop();
    await connection.close();
    await temporal.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

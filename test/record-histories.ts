/**
 * Regenerates test/fixtures/histories/: each runbook's happy path (`<runbook>.json`) and the other
 * recorded paths (`<runbook>-<path>.json`: escalation, gates rejected and timed out, restoration by
 * policy, cancellation, alert groups, continue-as-new; test/workflows/scenarios.ts), run on a real
 * dev server with the typed fakes, saved for test/replay.test.ts. Re-record only when a change is
 * meant to be incompatible (and then guard running incidents with `patched()`).
 *
 *   node --import tsx test/record-histories.ts [runbook|path…]   (all by default; a runbook id
 *   records its happy path and its other paths; uses FIREBREAK_TEST_TEMPORAL_ADDRESS, or starts a
 *   dev server)
 *
 * A history kept for an older path of a runbook is saved beside it as `<runbook>-<what>.json`
 * (e.g. oom-triage-heap-in-pod.json): replay.test.ts replays every file here.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { RUNBOOK_IDS } from '../common/types';
import { withFakeWorldWorker } from './bed/fake-world-script';
import { FakeWorld } from './workflows/fakes';
import { HAPPY_PATHS, OTHER_PATHS, type IncidentHandle } from './workflows/scenarios';

export const HISTORIES_DIR = fileURLToPath(new URL('./fixtures/histories/', import.meta.url));

async function main(): Promise<void> {
  const world = new FakeWorld({ oomKills: [{ pod: 'api-0', container: 'app', source: 'containerStatus' }] });
  await withFakeWorldWorker(world, 'record', async (client, worker) => {
    await mkdir(HISTORIES_DIR, { recursive: true });
    const chosen = process.argv.slice(2);
    const unknown = chosen.filter(
      (name) => !(RUNBOOK_IDS as readonly string[]).includes(name) && !(name in OTHER_PATHS),
    );
    if (unknown.length) throw new Error(`unknown runbook(s) or path(s): ${unknown.join(', ')}`);
    const wanted = (runbook: string, pathName?: string) =>
      chosen.length === 0 || chosen.includes(runbook) || (pathName !== undefined && chosen.includes(pathName));
    const save = async (name: string, handle: IncidentHandle) => {
      await handle.result();
      const file = path.join(HISTORIES_DIR, `${name}.json`);
      // The latest run's history: a continued-as-new incident is recorded as the run that finished it.
      await writeFile(file, `${historyToJSON(await handle.fetchHistory())}\n`);
      console.log(`${name}: ${file}`);
    };
    for (const runbook of RUNBOOK_IDS.filter((id) => wanted(id))) {
      await save(runbook, await HAPPY_PATHS[runbook](client, worker.taskQueue));
    }
    for (const [name, recorded] of Object.entries(OTHER_PATHS)) {
      if (!wanted(recorded.runbook, name)) continue;
      await save(`${recorded.runbook}-${name}`, await recorded.drive(client, worker.taskQueue));
    }
  });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

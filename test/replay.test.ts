/**
 * Replays one recorded happy-path history per runbook against today's workflow code: a change
 * that would break running incidents (a step added, removed or reordered without `patched()`)
 * fails here with a DeterminismViolationError. Needs no server.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { RUNBOOK_IDS } from '../common/types';
import { bundleWorkflowsOnce, installQuietRuntime } from './bed/worker';

const HISTORIES_DIR = new URL('./fixtures/histories/', import.meta.url);

test('every recorded history (one per runbook, and older paths kept beside them) replays without a determinism error', async () => {
  installQuietRuntime();
  const files = (await readdir(HISTORIES_DIR)).filter((file) => file.endsWith('.json')).sort();
  for (const runbook of RUNBOOK_IDS) assert.ok(files.includes(`${runbook}.json`), `no recorded history of ${runbook}`);
  const histories = await Promise.all(
    files.map(async (file) => {
      const text = await readFile(fileURLToPath(new URL(file, HISTORIES_DIR)), 'utf8');
      return { workflowId: `replay-${file.replace(/\.json$/, '')}`, history: historyFromJSON(JSON.parse(text)) };
    }),
  );
  const replayed: string[] = [];
  for await (const result of Worker.runReplayHistories({ workflowBundle: await bundleWorkflowsOnce() }, histories)) {
    assert.equal(result.error, undefined, `${result.workflowId}: ${String(result.error)}`);
    replayed.push(result.workflowId);
  }
  assert.deepEqual(
    replayed,
    histories.map((h) => h.workflowId),
  );
});

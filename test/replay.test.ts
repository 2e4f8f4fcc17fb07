/**
 * Replays one recorded happy-path history per runbook against today's workflow code: a change
 * that would break running incidents (a step added, removed or reordered without `patched()`)
 * fails here with a DeterminismViolationError. Needs no server.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { RUNBOOK_IDS } from '../common/types';
import { bundleWorkflowsOnce, installQuietRuntime } from './bed/worker';

const HISTORIES_DIR = new URL('./fixtures/histories/', import.meta.url);

test('every runbook replays its recorded history without a determinism error', async () => {
  installQuietRuntime();
  const histories = await Promise.all(
    RUNBOOK_IDS.map(async (runbook) => {
      const text = await readFile(fileURLToPath(new URL(`${runbook}.json`, HISTORIES_DIR)), 'utf8');
      return { workflowId: `replay-${runbook}`, history: historyFromJSON(JSON.parse(text)) };
    }),
  );
  const replayed: string[] = [];
  for await (const result of Worker.runReplayHistories({ workflowBundle: await bundleWorkflowsOnce() }, histories)) {
    assert.equal(result.error, undefined, `${result.workflowId}: ${String(result.error)}`);
    replayed.push(result.workflowId);
  }
  assert.deepEqual(
    replayed,
    RUNBOOK_IDS.map((runbook) => `replay-${runbook}`),
  );
});

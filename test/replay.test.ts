/**
 * Replays every recorded history — each runbook's happy path and its other paths (escalation,
 * gates rejected and timed out, restoration by policy and by button, cancellation, an alert group
 * that resolves, a continued-as-new run), and older paths kept beside them — against today's
 * workflow code: a change that would break running incidents (a step added, removed or reordered
 * without `patched()`) fails here, naming the history and its first diverging event. Needs no server.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { RUNBOOK_IDS } from '../common/types';
import { describeOutcome, replayHistories, type ReplayInput } from '../worker/replay';
import { bundleWorkflowsOnce, installQuietRuntime } from './bed/worker';
import { bundleReorderedBuild } from './versioning/reordered-build';
import { OTHER_PATHS } from './workflows/scenarios';

const HISTORIES_DIR = new URL('./fixtures/histories/', import.meta.url);

async function recordedHistories(): Promise<ReplayInput[]> {
  const files = (await readdir(HISTORIES_DIR)).filter((file) => file.endsWith('.json')).sort();
  return Promise.all(
    files.map(async (file) => {
      const text = await readFile(fileURLToPath(new URL(file, HISTORIES_DIR)), 'utf8');
      return { workflowId: file.replace(/\.json$/, ''), history: historyFromJSON(JSON.parse(text)) };
    }),
  );
}

test('every recorded history (every runbook, its non-happy paths, older paths) replays on today’s build', async () => {
  installQuietRuntime();
  const histories = await recordedHistories();
  const names = histories.map((h) => h.workflowId);
  for (const runbook of RUNBOOK_IDS) assert.ok(names.includes(runbook), `no recorded history of ${runbook}`);
  for (const [name, path] of Object.entries(OTHER_PATHS)) {
    assert.ok(names.includes(`${path.runbook}-${name}`), `no recorded history of ${path.runbook}-${name}`);
  }
  assert.ok(histories.length >= 12, `${histories.length} recorded histories`);
  const continued = histories.find((h) => h.workflowId === 'p0-response-continued-as-new');
  assert.ok(
    continued?.history.events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId,
    'the continued-as-new history is of the run that continued',
  );

  const outcomes = await replayHistories(await bundleWorkflowsOnce(), histories);
  const failed = outcomes.filter((o) => !o.ok).map((o) => describeOutcome(o));
  assert.deepEqual(failed, []);
  assert.deepEqual(
    outcomes.map((o) => o.workflowId),
    names,
  );
});

test('a runbook edit that reorders commands fails the replay, naming the history and its first diverging event', async () => {
  installQuietRuntime();
  const histories = (await recordedHistories()).filter((h) => h.workflowId.startsWith('p0-response'));
  const outcomes = await replayHistories({ code: await bundleReorderedBuild() }, histories);
  const happy = outcomes.find((o) => o.workflowId === 'p0-response');
  assert.equal(happy?.ok, false);
  assert.equal(happy?.divergence?.eventType, 'ActivityTaskScheduled');
  assert.equal(happy?.divergence?.name, 'listRecentEvents');
  assert.match(happy?.divergence?.message ?? '', /Nondeterminism error/);
  // The event the history holds there: the recent events read, where the edit now reads metrics.
  const event = histories
    .find((h) => h.workflowId === 'p0-response')!
    .history.events!.find((e) => Number(e.eventId) === happy!.divergence!.eventId);
  assert.equal(event?.activityTaskScheduledEventAttributes?.activityType?.name, 'listRecentEvents');
  assert.match(
    describeOutcome(happy!),
    /^FAIL {2}p0-response: first diverging event \d+ ActivityTaskScheduled \(listRecentEvents\) — /,
  );
  // Every p0 history that ran the diagnostics diverges (a continued run starts after them).
  for (const outcome of outcomes.filter((o) => o.workflowId !== 'p0-response-continued-as-new')) {
    assert.equal(outcome.ok, false, `${outcome.workflowId} should diverge`);
  }
});

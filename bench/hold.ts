/**
 * What the deployment hold costs a P0 response on its way to the first change, on the real dev
 * server with the typed fake activities. Each sample is a fresh deployment, so each claim starts a
 * new hold workflow (the first-claim cost, the common case). Median and p90 of N runs.
 *
 * Since patch first-action-first an incident claims its holds with a local activity (claimFreeHolds,
 * recorded as a `core_local_activity` marker, not an ActivityTaskScheduled) scheduled with the
 * read-only diagnostics, and waits for the holds only before its first change or gate. sdk-core
 * completes that workflow task with the diagnostics' commands at once and keeps the next one open
 * until the claim returns, so the claim delays the diagnostics' results, not their start:
 *  - localClaimMs: the local claim's run, as the worker timed it (the marker's complete_time minus
 *    the start of the workflow task it was scheduled in);
 *  - claimTaskMs: the workflow task held open for it, WorkflowTaskStarted → WorkflowTaskCompleted
 *    (the marker comes with that completion);
 *  - resultsHeldMs: how long the first activity result that arrived while that task was open
 *    waited for it (0 when none did);
 *  - holdStartedMs: incident's WorkflowExecutionStarted → the hold workflow's WorkflowExecutionStarted;
 *  - waitBeforeFirstChangeMs: how long the first change waited for the claim after the last
 *    activity before it completed (0 when the claim was settled first);
 *  - holdOnPathMs: resultsHeldMs + waitBeforeFirstChangeMs — what the hold adds before the first change;
 *  - startToFirstChangeMs: WorkflowExecutionStarted → the first change's ActivityTaskScheduled (the
 *    whole path; holdShare = holdOnPathMs / startToFirstChangeMs, per sample).
 * Histories from before the patch (a claimHold or requestHold ActivityTaskScheduled before the
 * runbook's steps) are read too: there holdOnPathMs is the claim's ActivityTaskScheduled → the first
 * runbook activity's ActivityTaskScheduled, as this benchmark measured before, and localClaimMs is absent.
 * Server timestamps unless said otherwise; the load average is printed beside the figures.
 *
 *   node --import tsx bench/hold.ts [--runs 20]     (uses FIREBREAK_TEST_TEMPORAL_ADDRESS, or starts a dev server)
 */
import { loadavg } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import proto from '@temporalio/proto';
import { holdWorkflowId } from '../domain/hold';
import { withFakeWorldWorker } from '../test/bed/fake-world-script';
import { localActivityMark, percentile, positiveIntArg, writeBenchResult } from './support';
import { FakeWorld } from '../test/workflows/fakes';
import { fastPolicy, history, startIncident, uniqueTarget } from '../test/workflows/harness';

const EventType = proto.temporal.api.enums.v1.EventType;
type Event = proto.temporal.api.history.v1.IHistoryEvent;
type Timestamp = { seconds?: unknown; nanos?: unknown } | null | undefined;
const HOLD_ACTIVITIES = new Set(['claimHold', 'requestHold', 'claimFreeHolds', 'releaseHold']);
const KERNEL_ACTIVITIES = new Set(['publishIncidentCard', 'postTimelineEntry']);
/** Changes to the cluster (workflows/incident/proxies.ts KubernetesChanges): the first one ends the path. */
const CHANGES = new Set([
  'rolloutRestart',
  'rolloutUndo',
  'scaleDeployment',
  'setDeploymentEnv',
  'setContainerResources',
]);

const stampMillis = (time: Timestamp): number =>
  time ? Number(time.seconds ?? 0) * 1000 + Math.floor(Number(time.nanos ?? 0) / 1e6) : NaN;
const millis = (event: Event | undefined): number => stampMillis(event?.eventTime);
const activityName = (e: Event) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? '';
const figures = (values: number[]) => {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  return { median: percentile(sorted, 50), p90: percentile(sorted, 90), min: sorted[0], max: sorted.at(-1) };
};

export interface HoldPath {
  form: 'local' | 'scheduled';
  localClaimMs: number;
  claimTaskMs: number;
  resultsHeldMs: number;
  waitBeforeFirstChangeMs: number;
  holdOnPathMs: number;
  startToFirstChangeMs: number;
}

/** The hold's part of one incident's path to its first change, or why it cannot be read. */
export function holdPath(events: Event[]): HoldPath | string {
  const started = events.find((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED);
  const scheduled = events.filter((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED);
  const firstChange = scheduled.find((e) => CHANGES.has(activityName(e)));
  if (!started || !firstChange) return 'no start or no first change in the history';
  const startToFirstChangeMs = millis(firstChange) - millis(started);
  const localClaim = events
    .map((event) => ({ event, mark: localActivityMark(event) }))
    .find(({ mark }) => mark && HOLD_ACTIVITIES.has(mark.activity_type ?? ''));
  if (localClaim) {
    const { event: marker, mark } = localClaim;
    const tasks = (type: number) => events.filter((e) => e.eventType === type);
    const scheduledAt = stampMillis(mark!.original_schedule_time);
    // The task the claim was scheduled in (original_schedule_time is the worker's clock, on this
    // machine the server's): sdk-core records complete_time as that task's start + the run's length.
    const scheduledIn = tasks(EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED).findLast((e) => millis(e) <= scheduledAt);
    const localClaimMs = stampMillis(mark!.complete_time) - millis(scheduledIn);
    // sdk-core completes that task with the diagnostics' commands and keeps the next one open until
    // the claim returns; the marker comes with that task's completion.
    const before = events.filter((e) => Number(e.eventId) < Number(marker.eventId));
    const taskStarted = before.findLast((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED);
    const taskCompleted = before.findLast((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED);
    const claimTaskMs = millis(taskCompleted) - millis(taskStarted);
    // Activity results that arrived while that task was open waited for it.
    const heldResult = events.find(
      (e) =>
        e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED &&
        millis(e) >= millis(taskStarted) &&
        millis(e) < millis(taskCompleted),
    );
    const resultsHeldMs = heldResult ? millis(taskCompleted) - millis(heldResult) : 0;
    // The first change's workflow task began with the last activity completion before it: the
    // claim held it back only if it was settled later.
    const lastCompletion = events
      .filter((e) => Number(e.eventId) < Number(firstChange.eventId))
      .findLast((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED);
    const waitBeforeFirstChangeMs = Math.max(0, millis(marker) - millis(lastCompletion ?? marker));
    return {
      form: 'local',
      localClaimMs,
      claimTaskMs,
      resultsHeldMs,
      waitBeforeFirstChangeMs,
      holdOnPathMs: resultsHeldMs + waitBeforeFirstChangeMs,
      startToFirstChangeMs,
    };
  }
  const claim = scheduled.find((e) => HOLD_ACTIVITIES.has(activityName(e)));
  const firstStep = scheduled.find(
    (e) => !HOLD_ACTIVITIES.has(activityName(e)) && !KERNEL_ACTIVITIES.has(activityName(e)),
  );
  if (!claim || !firstStep)
    return 'no claim (local-activity marker or scheduled activity) or no first step in the history';
  return {
    form: 'scheduled',
    localClaimMs: NaN,
    claimTaskMs: NaN,
    resultsHeldMs: NaN,
    waitBeforeFirstChangeMs: NaN,
    holdOnPathMs: millis(firstStep) - millis(claim),
    startToFirstChangeMs,
  };
}

async function main(): Promise<void> {
  const runs = positiveIntArg(process.argv, 'runs', 20);
  const paths: HoldPath[] = [];
  const holdStarted: number[] = [];
  const loadBefore = loadavg();
  await withFakeWorldWorker(new FakeWorld(), 'bench-hold', async (client, worker) => {
    for (let i = 0; i < runs; i++) {
      const target = uniqueTarget('bench');
      const handle = await startIncident(client, worker.taskQueue, {
        runbook: 'p0-response',
        severity: 'P0',
        targets: [target],
        policy: fastPolicy(),
      });
      let events: Event[] = [];
      const changed = () =>
        events.some(
          (e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED && CHANGES.has(activityName(e)),
        );
      for (let attempt = 0; attempt < 500 && !changed(); attempt++) {
        await new Promise((r) => setTimeout(r, 20));
        events = await history(handle);
      }
      await handle.terminate('benchmark sample');
      const path = holdPath(events);
      if (typeof path === 'string') throw new Error(`sample ${i}: ${path}`);
      paths.push(path);
      const holdEvents = await history(client.workflow.getHandle(holdWorkflowId(target)));
      const incidentStarted = events.find((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED);
      const holdStart = holdEvents.find((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED);
      holdStarted.push(millis(holdStart) - millis(incidentStarted));
      await client.workflow
        .getHandle(holdWorkflowId(target))
        .terminate('benchmark sample')
        .catch(() => undefined);
    }
    const of = (key: keyof Omit<HoldPath, 'form'>) => figures(paths.map((p) => p[key]));
    const summary = {
      runs,
      claimForms: {
        localMarker: paths.filter((p) => p.form === 'local').length,
        scheduledActivity: paths.filter((p) => p.form === 'scheduled').length,
      },
      localClaimMs: of('localClaimMs'),
      claimTaskMs: of('claimTaskMs'),
      resultsHeldMs: of('resultsHeldMs'),
      holdStartedMs: figures(holdStarted),
      waitBeforeFirstChangeMs: of('waitBeforeFirstChangeMs'),
      holdOnPathMs: of('holdOnPathMs'),
      startToFirstChangeMs: of('startToFirstChangeMs'),
      holdShare: figures(paths.map((p) => Math.round((p.holdOnPathMs / p.startToFirstChangeMs) * 1000) / 1000)),
      loadAverage: { before: loadBefore.map((l) => l.toFixed(2)), after: loadavg().map((l) => l.toFixed(2)) },
    };
    console.log('hold', JSON.stringify(summary));
    await writeBenchResult('hold', { summary });
  });
}

// Run as a script (not when a check imports holdPath).
if (import.meta.url === pathToFileURL(path.resolve(process.argv[1] ?? '')).href) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}

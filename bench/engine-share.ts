/**
 * The engine's share of trigger → first remediation, per runbook, against a bare workflow's
 * start → first activity measured in the same run on the same server (the floor: what any
 * Temporal workflow pays to get its first activity scheduled).
 *
 * Each runbook runs its happy path (test/workflows/scenarios.ts: gates approved as soon as they
 * are pending) on the real dev server with the typed fake activities. From the history's server
 * timestamps: trigger = WorkflowExecutionStarted, first remediation = the first ActivityTaskScheduled
 * of a cluster change (KubernetesChanges). The engine share is that span minus the time the runbook
 * itself needed: its own activities (diagnostics, reads, evidence: the union of their scheduled →
 * closed intervals) and the human's gate decisions (the idle gap before each accepted update).
 * What is left is the kernel and Temporal: workflow tasks, the card, the hold, the timeline. Since
 * patch first-action-first the hold is claimed by a local activity (a MarkerRecorded event, shown
 * as `local:claimFreeHolds` by --trace) inside the first workflow task: engine time, as before.
 *
 *   node --import tsx bench/engine-share.ts [--runs 10] [--trace] [--runbooks=a,b]   (--trace: each runbook's last run, event by event)   (uses FIREBREAK_TEST_TEMPORAL_ADDRESS, or starts a dev server)
 */
import { fileURLToPath } from 'node:url';
import proto from '@temporalio/proto';
import { RUNBOOK_IDS } from '../common/types';
import { ensureTemporal } from '../test/bed/temporal';
import { FakeWorld } from '../test/workflows/fakes';
import { history } from '../test/workflows/harness';
import { HAPPY_PATHS } from '../test/workflows/scenarios';
import { localActivityMark, percentile, positiveIntArg, writeBenchResult } from './support';

const EventType = proto.temporal.api.enums.v1.EventType;
type Event = proto.temporal.api.history.v1.IHistoryEvent;

const REMEDIATIONS = new Set([
  'rolloutRestart',
  'rolloutUndo',
  'scaleDeployment',
  'setDeploymentEnv',
  'setContainerResources',
]);
/** The kernel's own activities: they run beside the runbook, and any of them on the path is engine time. */
const KERNEL = new Set([
  'publishIncidentCard',
  'postTimelineEntry',
  'postApprovalRequest',
  'closeApprovalRequest',
  'postEscalation',
  'claimHold',
  'requestHold',
  'claimFreeHolds',
  'releaseHold',
  'peekHold',
  'isIncidentRunning',
]);

const millis = (event: Event | undefined): number => {
  const time = event?.eventTime;
  if (!time) return NaN;
  return Number(time.seconds ?? 0) * 1000 + Math.floor((time.nanos ?? 0) / 1e6);
};

/** Total length of the union of [start, end] intervals. */
function unionLength(intervals: [number, number][]): number {
  const sorted = intervals.filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0]);
  let total = 0;
  let [curStart, curEnd] = [NaN, NaN];
  for (const [a, b] of sorted) {
    if (Number.isNaN(curStart) || a > curEnd) {
      if (!Number.isNaN(curStart)) total += curEnd - curStart;
      [curStart, curEnd] = [a, b];
    } else {
      curEnd = Math.max(curEnd, b);
    }
  }
  if (!Number.isNaN(curStart)) total += curEnd - curStart;
  return total;
}

/** Trigger → first remediation, and what of it the runbook (activities, humans) accounts for. */
export function engineShare(events: Event[]): { total: number; runbook: number; human: number; engine: number } {
  const started = millis(events.find((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED));
  const first = events.find(
    (e) =>
      e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED &&
      REMEDIATIONS.has(e.activityTaskScheduledEventAttributes?.activityType?.name ?? ''),
  );
  if (!first) throw new Error('no remediation in the history');
  const end = millis(first);
  const byId = new Map(events.map((e) => [String(e.eventId), e]));
  const runbookActivities: [number, number][] = [];
  for (const e of events) {
    const closed =
      e.activityTaskCompletedEventAttributes ??
      e.activityTaskFailedEventAttributes ??
      e.activityTaskTimedOutEventAttributes;
    if (!closed) continue;
    const scheduled = byId.get(String(closed.scheduledEventId));
    const name = scheduled?.activityTaskScheduledEventAttributes?.activityType?.name ?? '';
    if (KERNEL.has(name) || REMEDIATIONS.has(name)) continue;
    runbookActivities.push([millis(scheduled), Math.min(millis(e), end)]);
  }
  const human: [number, number][] = [];
  for (const [i, e] of events.entries()) {
    if (e.eventType !== EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED || millis(e) > end) continue;
    let j = i - 1;
    while (j > 0 && events[j]!.eventType !== EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED) j--;
    if (j > 0) human.push([millis(events[j - 1]), millis(events[j])]);
  }
  const total = end - started;
  const runbook = unionLength(runbookActivities);
  const humans = unionLength(human);
  return { total, runbook, human: humans, engine: Math.max(0, total - unionLength([...runbookActivities, ...human])) };
}

/** The history up to the first remediation, one line per event: +ms since the trigger, type, activity or marker. */
export function traceToFirstRemediation(events: Event[]): string {
  const started = millis(events[0]);
  const names = new Map<string, string>();
  const lines: string[] = [];
  for (const e of events) {
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled) names.set(String(e.eventId), scheduled.activityType?.name ?? '?');
    const ref =
      e.activityTaskStartedEventAttributes?.scheduledEventId ??
      e.activityTaskCompletedEventAttributes?.scheduledEventId ??
      e.activityTaskFailedEventAttributes?.scheduledEventId;
    const name =
      scheduled?.activityType?.name ??
      (ref !== undefined && ref !== null ? names.get(String(ref)) : undefined) ??
      // A local activity (the hold's local claim) by its activity type; other markers by name.
      (localActivityMark(e) ? `local:${localActivityMark(e)?.activity_type ?? '?'}` : undefined) ??
      e.markerRecordedEventAttributes?.markerName ??
      e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name ??
      e.workflowExecutionSignaledEventAttributes?.signalName ??
      '';
    const type = proto.temporal.api.enums.v1.EventType[e.eventType ?? 0]?.replace('EVENT_TYPE_', '') ?? '?';
    lines.push(`  +${millis(e) - started} ${type} ${name}`.trimEnd());
    if (scheduled && REMEDIATIONS.has(scheduled.activityType?.name ?? '')) break;
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const runs = positiveIntArg(process.argv, 'runs', 10);
  const trace = process.argv.includes('--trace');
  const temporal = await ensureTemporal((line) => console.error(line));
  const { connectTestClient, runTestWorker, uniqueTaskQueue } = await import('../test/bed/worker');
  const { client, connection } = await connectTestClient();
  const world = new FakeWorld({ oomKills: [{ pod: 'api-0', container: 'app', source: 'containerStatus' }] });
  const worker = await runTestWorker({ activities: world.activities(), taskQueue: uniqueTaskQueue('bench-share') });
  const bare = await runTestWorker({
    activities: { firstStep: async () => undefined },
    taskQueue: uniqueTaskQueue('bench-floor'),
    workflowsPath: fileURLToPath(new URL('./workflows/bare.ts', import.meta.url)),
  });
  const floor: number[] = [];
  const sampleFloor = async () => {
    const id = `bare-first-activity-${crypto.randomUUID()}`;
    const handle = await client.workflow.start('bareActivityWorkflow', {
      taskQueue: bare.taskQueue,
      workflowId: id,
      args: [{ id }],
    });
    let events: Event[] = [];
    for (let i = 0; i < 200; i++) {
      events = await history(handle);
      if (events.some((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    await handle.terminate('benchmark sample');
    const started = events.find((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED);
    const scheduled = events.find((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED);
    floor.push(millis(scheduled) - millis(started));
  };
  const median = (values: number[]) =>
    percentile(
      [...values].sort((a, b) => a - b),
      50,
    );
  const results: Record<string, unknown> = {};
  try {
    const only = process.argv
      .find((a) => a.startsWith('--runbooks='))
      ?.slice('--runbooks='.length)
      .split(',');
    for (const runbook of RUNBOOK_IDS.filter((r) => !only || only.includes(r))) {
      const samples: ReturnType<typeof engineShare>[] = [];
      for (let i = 0; i < runs; i++) {
        await sampleFloor();
        const handle = await HAPPY_PATHS[runbook](client, worker.taskQueue);
        await handle.result();
        const events = await history(handle);
        samples.push(engineShare(events));
        if (trace && i === runs - 1) console.log(`${runbook} trace:\n${traceToFirstRemediation(events)}`);
      }
      const summary = {
        runs,
        triggerToFirstRemediationMs: median(samples.map((s) => s.total)),
        runbookActivitiesMs: median(samples.map((s) => s.runbook)),
        humanGatesMs: median(samples.map((s) => s.human)),
        engineShareMs: {
          p50: median(samples.map((s) => s.engine)),
          p90: percentile(
            samples.map((s) => s.engine).sort((a, b) => a - b),
            90,
          ),
        },
        floorStartToFirstActivityMs: median(floor),
      };
      results[runbook] = summary;
      console.log(runbook, JSON.stringify(summary));
    }
    const floorSummary = {
      p50: median(floor),
      p90: percentile(
        [...floor].sort((a, b) => a - b),
        90,
      ),
      samples: floor.length,
    };
    console.log('floor (bare workflow start → first activity scheduled)', JSON.stringify(floorSummary));
    console.log(`written ${await writeBenchResult('engine-share', { results, floor: floorSummary })}`);
  } finally {
    await worker.stop();
    await bare.stop();
    await connection.close();
    await temporal.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

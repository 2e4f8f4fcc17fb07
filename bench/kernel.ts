/**
 * Kernel figures per runbook on the real dev server, with the typed fake activities (so the
 * numbers are the engine's and the kernel's, not Kubernetes'):
 *  - happy path: workflow tasks, history events, activities (ActivityTaskScheduled) and local
 *    activities (`core_local_activity` markers: the hold's local claim since patch first-action-first),
 *    from start to the incident's close;
 *  - engine time from start to first activity: WorkflowExecutionStarted → first ActivityTaskStarted
 *    (server timestamps), median / p90 of N runs, plus the wall-clock time from the client's start
 *    call to the fake activity's first invocation. Since patch first-action-first the first
 *    workflow task also runs the local hold claim and completes (scheduling the first activity)
 *    only after it: these spans include it.
 *
 *   node --import tsx bench/kernel.ts [--runs 20]     (uses FIREBREAK_TEST_TEMPORAL_ADDRESS, or starts a dev server)
 */
import type { Client } from '@temporalio/client';
import proto from '@temporalio/proto';
import { RUNBOOK_IDS, type RunbookId } from '../common/types';
import { withFakeWorldWorker } from '../test/bed/fake-world-script';
import { FakeWorld } from '../test/workflows/fakes';
import { fastPolicy, history, startIncident, uniqueTarget } from '../test/workflows/harness';
import { HAPPY_PATHS } from '../test/workflows/scenarios';
import { localActivityMark, writeBenchResult } from './support';

const EventType = proto.temporal.api.enums.v1.EventType;
type Event = proto.temporal.api.history.v1.IHistoryEvent;

const millis = (event: Event | undefined): number => {
  const time = event?.eventTime;
  if (!time) return NaN;
  return Number(time.seconds ?? 0) * 1000 + Math.floor((time.nanos ?? 0) / 1e6);
};

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

async function startToFirstActivity(client: Client, taskQueue: string, runbook: RunbookId, world: FakeWorld) {
  const before = world.calls.length;
  const t0 = performance.now();
  const handle = await startIncident(client, taskQueue, {
    runbook,
    targets: [uniqueTarget('bench')],
    policy: fastPolicy({ gateDeadlineMs: 60_000, gateEscalateAfterMs: 60_000 }),
  });
  const deadline = Date.now() + 10_000;
  while (world.calls.length === before && Date.now() < deadline) await new Promise((r) => setImmediate(r));
  const wall = performance.now() - t0;
  // ActivityTaskStarted is written when the attempt completes: wait for it before stopping the incident.
  let events = await history(handle);
  for (let i = 0; i < 100 && !events.some((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED); i++) {
    await new Promise((r) => setTimeout(r, 20));
    events = await history(handle);
  }
  await handle.terminate('benchmark sample');
  const started = events.find((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED);
  const firstScheduled = events.find((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED);
  const firstStarted = events.find((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED);
  return {
    scheduled: millis(firstScheduled) - millis(started),
    started: millis(firstStarted) - millis(started),
    wall,
  };
}

async function main(): Promise<void> {
  const runsIndex = process.argv.indexOf('--runs');
  const runs = runsIndex >= 0 ? Number(process.argv[runsIndex + 1]) : 20;
  const world = new FakeWorld({ oomKills: [{ pod: 'api-0', container: 'app', source: 'containerStatus' }] });
  const results: Record<string, unknown> = {};
  await withFakeWorldWorker(world, 'bench', async (client, worker) => {
    for (const runbook of RUNBOOK_IDS) {
      const handle = await HAPPY_PATHS[runbook](client, worker.taskQueue);
      await handle.result();
      const events = await history(handle);
      const count = (type: number) => events.filter((e) => e.eventType === type).length;
      const samples = [];
      for (let i = 0; i < runs; i++) samples.push(await startToFirstActivity(client, worker.taskQueue, runbook, world));
      const summary = {
        historyEvents: events.length,
        workflowTasks: count(EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED),
        activities: count(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED),
        localActivities: events.filter((e) => localActivityMark(e)).length,
        timers: count(EventType.EVENT_TYPE_TIMER_STARTED),
        firstActivityScheduledMs: {
          median: median(samples.map((s) => s.scheduled)),
          p90: percentile(
            samples.map((s) => s.scheduled),
            90,
          ),
        },
        firstActivityStartedMs: {
          median: median(samples.map((s) => s.started)),
          p90: percentile(
            samples.map((s) => s.started),
            90,
          ),
        },
        clientStartToFirstActivityMs: {
          median: Math.round(median(samples.map((s) => s.wall))),
          p90: Math.round(
            percentile(
              samples.map((s) => s.wall),
              90,
            ),
          ),
        },
        runs,
      };
      results[runbook] = summary;
      console.log(runbook, JSON.stringify(summary));
    }
    const out = await writeBenchResult('kernel', { results });
    console.log(`written ${out}`);
  });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

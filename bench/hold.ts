/**
 * What the deployment hold adds to a P0 response's start, on the real dev server with the typed fake
 * activities: from the claim's ActivityTaskScheduled to the first runbook activity's
 * ActivityTaskScheduled (server timestamps) — the claim, the hold workflow's start and grant, and
 * the incident's next workflow task. Each sample is a fresh deployment, so each claim starts a new
 * hold workflow (the first-claim cost, the common case). Median and p90 of N runs.
 *
 *   node --import tsx bench/hold.ts [--runs 20]     (uses FIREBREAK_TEST_TEMPORAL_ADDRESS, or starts a dev server)
 */
import proto from '@temporalio/proto';
import { withFakeWorldWorker } from '../test/bed/fake-world-script';
import { percentile, positiveIntArg, writeBenchResult } from './support';
import { FakeWorld } from '../test/workflows/fakes';
import { fastPolicy, history, startIncident, uniqueTarget } from '../test/workflows/harness';

const EventType = proto.temporal.api.enums.v1.EventType;
type Event = proto.temporal.api.history.v1.IHistoryEvent;
const HOLD_ACTIVITIES = new Set(['claimHold', 'requestHold', 'releaseHold']);
const KERNEL_ACTIVITIES = new Set(['publishIncidentCard', 'postTimelineEntry']);

const millis = (event: Event | undefined): number => {
  const time = event?.eventTime;
  if (!time) return NaN;
  return Number(time.seconds ?? 0) * 1000 + Math.floor((time.nanos ?? 0) / 1e6);
};
const activityName = (e: Event) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? '';
const figures = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return { median: percentile(sorted, 50), p90: percentile(sorted, 90), min: sorted[0], max: sorted.at(-1) };
};

async function main(): Promise<void> {
  const runs = positiveIntArg(process.argv, 'runs', 20);
  const added: number[] = [];
  const toFirstStep: number[] = [];
  await withFakeWorldWorker(new FakeWorld(), 'bench-hold', async (client, worker) => {
    for (let i = 0; i < runs; i++) {
      const handle = await startIncident(client, worker.taskQueue, {
        runbook: 'p0-response',
        severity: 'P0',
        targets: [uniqueTarget('bench')],
        policy: fastPolicy(),
      });
      let events: Event[] = [];
      const scheduled = () => events.filter((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED);
      const firstStep = () =>
        scheduled().find((e) => !HOLD_ACTIVITIES.has(activityName(e)) && !KERNEL_ACTIVITIES.has(activityName(e)));
      for (let attempt = 0; attempt < 500 && !firstStep(); attempt++) {
        await new Promise((r) => setTimeout(r, 20));
        events = await history(handle);
      }
      await handle.terminate('benchmark sample');
      const claim = scheduled().find((e) => HOLD_ACTIVITIES.has(activityName(e)));
      const started = events.find((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED);
      if (!claim || !firstStep()) throw new Error(`sample ${i}: no claim or no first step in the history`);
      added.push(millis(firstStep()) - millis(claim));
      toFirstStep.push(millis(firstStep()) - millis(started));
    }
    const summary = {
      runs,
      holdAddedMs: figures(added),
      startToFirstRunbookActivityMs: figures(toFirstStep),
    };
    console.log('hold', JSON.stringify(summary));
    await writeBenchResult('hold', { summary });
  });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

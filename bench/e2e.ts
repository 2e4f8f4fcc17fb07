/**
 * End-to-end figures per runbook on the real engine (`firebreak start` as a child process, real
 * activities, the bed's control plane, the Slack and PagerDuty stand-ins):
 *
 *  - wall: from the moment the trigger leaves the sender (signed Slack command, or Alertmanager
 *    webhook POST) to the start of the first remediation call on the cluster (the first
 *    non-dry-run rolloutRestart / rolloutUndo / setDeploymentEnv / setContainerResources /
 *    scaleDeployment: its ActivityTaskStarted time in the history);
 *  - external: the part of that spent where the engine waits on others — every activity the
 *    runbook awaited (Kubernetes reads, health checks, Prometheus) from ActivityTaskStarted to its
 *    close, and humans (a gate from its request to the decision's UpdateAccepted) — as a union of
 *    intervals, so parallel diagnostics count once;
 *  - engine: wall − external: the ingress, Temporal scheduling, workflow tasks, activity dispatch.
 *    Slack calls run beside the runbook (the card courier), not in front of it: their overlap is
 *    reported apart (slackOverlapMs) and not subtracted.
 *
 *   npm run bench -- bench/e2e.ts          (bed: temporal, kube, prometheus)
 *   node --import tsx bench/e2e.ts [--runs 5]   with the FIREBREAK_TEST_* variables of a running bed
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { defaultPayloadConverter } from '@temporalio/common';
import proto from '@temporalio/proto';
import { incidentWorkflowId } from '../common/ids';
import type { ActivityName } from '../activities';
import type { IncidentRecord, RunbookId } from '../common/types';
import { CLUSTER_CHANGES } from '../postmortem/activity-names';
import { ALICE, BOB, e2eBed, World } from '../test/e2e/harness';

const EventType = proto.temporal.api.enums.v1.EventType;
type Event = proto.temporal.api.history.v1.IHistoryEvent;

const BESIDE_THE_RUNBOOK = new Set<ActivityName>([
  'publishIncidentCard',
  'postTimelineEntry',
  'postApprovalRequest',
  'closeApprovalRequest',
  'postEscalation',
  'triggerPage',
  'acknowledgePage',
  'resolvePage',
]);

const millis = (event: Event | undefined | null): number => {
  const time = event?.eventTime;
  if (!time) return NaN;
  return Number(time.seconds ?? 0) * 1000 + Math.floor((time.nanos ?? 0) / 1e6);
};

type Interval = [number, number];

/** Total length of the union of intervals, clipped to [from, to]. */
function unionLength(intervals: Interval[], from: number, to: number): number {
  const clipped = intervals
    .map(([a, b]): Interval => [Math.max(a, from), Math.min(b, to)])
    .filter(([a, b]) => b > a)
    .sort((x, y) => x[0] - y[0]);
  let total = 0;
  let current: Interval | undefined;
  for (const interval of clipped) {
    if (current && interval[0] <= current[1]) current[1] = Math.max(current[1], interval[1]);
    else {
      if (current) total += current[1] - current[0];
      current = [...interval];
    }
  }
  if (current) total += current[1] - current[0];
  return total;
}

interface Sample {
  wallMs: number;
  externalMs: number;
  engineMs: number;
  humanMs: number;
  slackOverlapMs: number;
  /** Trigger sent → WorkflowExecutionStarted (ingress + Temporal start). */
  ingressMs: number;
  firstRemediation: string;
}

async function measure(world: World, workflowId: string, t0: number): Promise<Sample> {
  const handle = world.client.workflow.getHandle(workflowId);
  const events = (await handle.fetchHistory()).events ?? [];
  const scheduled = new Map<number, { name: string; input: unknown }>();
  const started = new Map<number, number>();
  const activityIntervals: Interval[] = [];
  const slackIntervals: Interval[] = [];
  let firstRemediation: { name: string; at: number } | undefined;
  for (const event of events) {
    const id = Number(event.eventId);
    if (event.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED) {
      const attrs = event.activityTaskScheduledEventAttributes!;
      const payload = attrs.input?.payloads?.[0];
      scheduled.set(id, {
        name: attrs.activityType?.name ?? '',
        input: payload ? defaultPayloadConverter.fromPayload(payload) : undefined,
      });
    } else if (event.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED) {
      const scheduledId = Number(event.activityTaskStartedEventAttributes!.scheduledEventId);
      started.set(scheduledId, millis(event));
      const activity = scheduled.get(scheduledId);
      const dryRun = (activity?.input as { dryRun?: boolean } | undefined)?.dryRun === true;
      if (activity && CLUSTER_CHANGES.has(activity.name) && !dryRun && !firstRemediation) {
        firstRemediation = { name: activity.name, at: millis(event) };
      }
    } else {
      const closed =
        event.activityTaskCompletedEventAttributes ??
        event.activityTaskFailedEventAttributes ??
        event.activityTaskTimedOutEventAttributes;
      if (!closed) continue;
      const scheduledId = Number(closed.scheduledEventId);
      const name = scheduled.get(scheduledId)?.name ?? '';
      const interval: Interval = [started.get(scheduledId) ?? millis(event), millis(event)];
      ((BESIDE_THE_RUNBOOK as ReadonlySet<string>).has(name) ? slackIntervals : activityIntervals).push(interval);
    }
  }
  if (!firstRemediation) throw new Error(`${workflowId}: no remediation call in the history`);
  const startedAt = millis(events[0]);
  const record = (await world.record(workflowId)) as IncidentRecord;
  const accepted = events.filter((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED);
  const humanIntervals: Interval[] = record.gates
    .filter((gate) => gate.decidedAt)
    .map((gate): Interval => {
      const decided = accepted.find((e) => millis(e) >= Date.parse(gate.requestedAt));
      return [Date.parse(gate.requestedAt), decided ? millis(decided) : Date.parse(gate.decidedAt!)];
    });
  const t1 = firstRemediation.at;
  const wallMs = t1 - t0;
  const humanMs = unionLength(humanIntervals, t0, t1);
  const externalMs = unionLength([...activityIntervals, ...humanIntervals], t0, t1);
  return {
    wallMs,
    externalMs,
    engineMs: wallMs - externalMs,
    humanMs,
    slackOverlapMs: unionLength(slackIntervals, t0, t1),
    ingressMs: startedAt - t0,
    firstRemediation: firstRemediation.name,
  };
}

/** Triggers one incident the way a human or an alert would, and returns its workflow id once remediation began. */
async function runOnce(world: World, runbook: RunbookId, index: number): Promise<Sample> {
  const ns = world.namespace;
  const name = `${runbook.split('-')[0]}-${index}`;
  let t0: number;
  let workflowId: string;
  switch (runbook) {
    case 'p0-response': {
      await world.cluster.deploy(ns, name, { replicas: 1 });
      world.service.healthy = true;
      t0 = Date.now();
      await world.slashCommand(`p0 ${ns}/${name} healthUrl=${world.service.healthUrl}`, ALICE);
      workflowId = incidentWorkflowId('p0-response', { namespace: ns, deployment: name });
      break;
    }
    case 'emergency-rollback': {
      await world.cluster.deploy(ns, name, { replicas: 1, image: 'registry.example/app:v1' });
      await world.cluster.setImage(ns, name, 'registry.example/app:v2');
      t0 = Date.now();
      await world.slashCommand(`rollback ${ns}/${name} 1`, ALICE);
      workflowId = incidentWorkflowId('emergency-rollback', { namespace: ns, deployment: name });
      // The second person approves as soon as the buttons appear; that wait is human time.
      const button = await world.findButton(new RegExp(`:confirm-rollback:approve$`), `approving ${name}`);
      await world.click(button, BOB);
      break;
    }
    case 'avalanche-mitigation': {
      await world.cluster.deploy(ns, name, { replicas: 1 });
      const groupKey = `{}:{alertname="ServiceAvalanche", deployment="${name}"}`;
      t0 = Date.now();
      ({ workflowId } = await world.postAlerts(groupKey, [
        { labels: { alertname: 'ServiceAvalanche', namespace: ns, deployment: name } },
      ]));
      break;
    }
    case 'oom-triage': {
      await world.cluster.deploy(ns, name, { replicas: 1, limits: { memory: '256Mi' } });
      await world.cluster.markOomKilled(ns, name);
      const groupKey = `{}:{alertname="KubePodOOMKilled", deployment="${name}"}`;
      t0 = Date.now();
      ({ workflowId } = await world.postAlerts(groupKey, [
        { labels: { alertname: 'KubePodOOMKilled', namespace: ns, deployment: name, severity: 'critical' } },
      ]));
      break;
    }
  }
  await world.waitFor(workflowId, 'mitigated', (r) => r.status === 'mitigated', 120_000);
  const sample = await measure(world, workflowId, t0);
  await world.client.workflow.getHandle(workflowId).terminate('benchmark sample measured');
  return sample;
}

async function main(): Promise<void> {
  if (!e2eBed()) throw new Error('needs the bed: npm run bench -- bench/e2e.ts (components temporal, kube)');
  const runsArg = process.argv.indexOf('--runs');
  const runs = runsArg >= 0 ? Number(process.argv[runsArg + 1]) : 5;
  // The first incident of each runbook pays for cold code paths in the engine (JIT, connections).
  const warmup = 1;
  const world = await World.create({
    name: 'bench',
    routes: [
      {
        match: { alertname: 'ServiceAvalanche' },
        runbook: 'avalanche-mitigation',
        params: { replicas: { value: '2' } },
      },
      {
        match: { alertname: 'KubePodOOMKilled' },
        runbook: 'oom-triage',
        severity: 'P1',
        params: { heapProfile: { value: 'false' }, offerDisableTraceExport: { value: 'false' } },
      },
    ],
  });
  const results: Record<string, unknown> = {};
  try {
    const runbooks: RunbookId[] = ['p0-response', 'emergency-rollback', 'avalanche-mitigation', 'oom-triage'];
    console.log('runbook               first remediation       wall ms  external ms  human ms  engine ms  ingress ms');
    for (const runbook of runbooks) {
      const samples: Sample[] = [];
      for (let i = 0; i < warmup + runs; i++) {
        const sample = await runOnce(world, runbook, i);
        if (i >= warmup) samples.push(sample);
      }
      // The run with the median wall time, whole: its parts add up, which medians per field would not.
      const typical = [...samples].sort((a, b) => a.wallMs - b.wallMs)[Math.floor(samples.length / 2)]!;
      const summary = {
        ...typical,
        wallMsRange: [Math.min(...samples.map((s) => s.wallMs)), Math.max(...samples.map((s) => s.wallMs))],
        engineMsRange: [Math.min(...samples.map((s) => s.engineMs)), Math.max(...samples.map((s) => s.engineMs))],
        runs,
        samples,
      };
      results[runbook] = summary;
      console.log(
        `${runbook.padEnd(22)}${summary.firstRemediation.padEnd(22)}${String(summary.wallMs).padStart(9)}` +
          `${String(summary.externalMs).padStart(13)}${String(summary.humanMs).padStart(10)}` +
          `${String(summary.engineMs).padStart(11)}${String(summary.ingressMs).padStart(12)}`,
      );
    }
    const out = fileURLToPath(new URL('./results/e2e.json', import.meta.url));
    await mkdir(fileURLToPath(new URL('./results/', import.meta.url)), { recursive: true });
    await writeFile(
      out,
      `${JSON.stringify({ at: new Date().toISOString(), medianOf: runs, warmup, results }, null, 2)}\n`,
    );
    console.log(`(the run with the median wall time of ${runs}, after ${warmup} warm-up run per runbook; ${out})`);
  } finally {
    await world.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

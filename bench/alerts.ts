/**
 * Alert-webhook ingest benchmark: Alertmanager notifications posted with bounded concurrency to the
 * real ingress over HTTP, landing on a real Temporal with the real workflows on a worker with fake
 * activities — beside the floors, measured in the same run on the same server:
 *
 *  1. floor: a bare signal-with-start loop (one call per notification, a workflow that only counts);
 *  2. floor: a bare signal loop to those running workflows;
 *  3. burst: N notifications (default 10,000) over G groups (default 100) through the ingress;
 *  4. new incidents: M groups (default 200), one notification each, through the ingress, against
 *     5. floor: M bare signal-with-starts of new workflow ids.
 *
 * Delivery is judged by the contract Alertmanager keeps with a receiver: a 2xx answer promises the
 * notification is recorded; anything else (the ingress answers 503 past its Temporal deadline on a
 * loaded machine) is sent again, in up to RETRY_ROUNDS rounds with doubling backoff. A request that
 * timed out may still have landed before its re-send, and an incident counts a re-sent notification
 * again (it dedupes only the parts of one notification, by `receivedAt`), so the burst passes when
 * every notification is answered 2xx in the end, exactly G incidents exist, each incident records
 * at least the notifications answered 2xx to its group and at most the ones sent to it (an `alert`
 * signal, or one of an `alerts` signal's coalesced notifications; a split notification's later parts
 * not counted again), and every fingerprint is folded into the incident. The same holds for the new
 * incidents. Reported: notifications/s and latency per phase (first sends), the answers' statuses,
 * the re-sends and what they were answered, notifications recorded beyond those answered 2xx,
 * Temporal server CPU ms per notification (from /proc when the server is local), signals per
 * notification, and the ratios to the floors.
 *
 *   node --import tsx bench/alerts.ts [--notifications 10000] [--groups 100] [--concurrency 512]
 *        [--floor-concurrency 32] [--floor-notifications 2000] [--new-groups 200] [--json]
 *
 * The notifications leave from a process of their own (bench/sender.mjs), `--concurrency` in flight;
 * the floors and the new incidents run at `--floor-concurrency`.
 *
 * Uses FIREBREAK_TEST_TEMPORAL_ADDRESS when set (`npm run bench -- bench/alerts.ts`), else starts
 * its own dev server in a temporary directory. The figures are written to bench/results/alerts.json
 * (alerts-postgres.json on the cluster on PostgreSQL: `npm run bench -- --temporal postgres ...`,
 * or `npm run test:postgres`, which runs it at a CI size).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { Client } from '@temporalio/client';
import { alertWorkflowId } from '../common/ids';
import { DEFAULT_POLICY } from '../common/incident';
import { statusQuery, type AlertNotification } from '../domain/messages';
import { toNotification } from '../ingress/alerts/normalise';
import { parsePayload } from '../ingress/alerts/schemas';
import { notificationSignals } from '../ingress/alerts/signals';
import {
  alertmanagerPayload,
  eventually,
  oomAlert,
  oomRoutesYaml,
  signalEvents,
  startTestIngress,
  workflowsOnQueue,
} from '../test/alerts-support';
import { FakeWorld } from '../test/workflows/fakes';
import { ensureTemporal } from '../test/bed/temporal';
import { bareAlertSignal, bareAlertsSignal } from './workflows/bare';
import {
  percentile,
  positiveIntArg,
  processCpuMs,
  runConcurrently,
  temporalServerPid,
  writeBenchResult,
} from './support';

const TOKEN = 'bench-token';
const RECEIVER = 'firebreak\\.bench';
const FINGERPRINTS_PER_GROUP = 10;
/** Alertmanager's re-sends of a notification not answered 2xx: this many rounds, the first after RETRY_BACKOFF_MS, doubling. */
const RETRY_ROUNDS = 5;
const RETRY_BACKOFF_MS = 500;

interface Options {
  notifications: number;
  groups: number;
  concurrency: number;
  floorConcurrency: number;
  floorNotifications: number;
  newGroups: number;
  json: boolean;
}

function parseArgs(argv: string[]): Options {
  const number = (name: string, fallback: number) => positiveIntArg(argv, name, fallback);
  return {
    notifications: number('notifications', 10_000),
    groups: number('groups', 100),
    concurrency: number('concurrency', 512),
    floorConcurrency: number('floor-concurrency', 32),
    floorNotifications: number('floor-notifications', 2_000),
    newGroups: number('new-groups', 200),
    json: argv.includes('--json'),
  };
}

interface Phase {
  count: number;
  concurrency: number;
  seconds: number;
  perSecond: number;
  latencyMs: { p50: number; p99: number; max: number };
  temporalCpuMsPer: number;
  /** CPU ms per item of the benchmark's own process (the ingress and the worker, or the floor's client). */
  benchCpuMsPer: number;
  /** CPU ms per item of the sender process (phases through the ingress only). */
  senderCpuMsPer?: number;
  /** Of benchCpuMsPer, the main thread's (the ingress, the Temporal client, the activities). */
  benchMainThreadCpuMsPer?: number;
}

const round1 = (n: number) => Number(n.toFixed(1));
const round2 = (n: number) => Number(n.toFixed(2));

function phaseFigures(
  count: number,
  concurrency: number,
  seconds: number,
  latencies: number[],
  cpu: { temporal: number; bench: number; sender?: number },
): Phase {
  return {
    count,
    concurrency,
    seconds: round2(seconds),
    perSecond: round1(count / seconds),
    latencyMs: {
      p50: round1(percentile(latencies, 50)),
      p99: round1(percentile(latencies, 99)),
      max: round1(percentile(latencies, 100)),
    },
    temporalCpuMsPer: round2(cpu.temporal / count),
    benchCpuMsPer: round2(cpu.bench / count),
    ...(cpu.sender !== undefined ? { senderCpuMsPer: round2(cpu.sender / count) } : {}),
  };
}

const ownCpuMs = () => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
};

/** CPU ms of this process's main thread (its tid is the pid), from /proc; NaN where unreadable. */
async function mainThreadCpuMs(): Promise<number> {
  return processCpuMs(process.pid, `/proc/self/task/${process.pid}/stat`);
}

/**
 * The sender process (bench/sender.mjs): posts notifications to the ingress from outside the
 * benchmark's process, as Alertmanager does, so the client's CPU is neither the ingress's nor
 * starves it. `send` answers each index's status (0: no answer) and latency.
 */
class Sender {
  private readonly child: ChildProcess;
  private nextId = 0;
  private readonly waiting = new Map<number, (results: { i: number; status: number; ms: number }[]) => void>();

  constructor() {
    this.child = fork(fileURLToPath(new URL('./sender.mjs', import.meta.url)), [], {
      execArgv: [],
      serialization: 'advanced',
    });
    this.child.on('message', (message: { type: string; id?: number; results?: never }) => {
      if (message.type === 'sent') {
        this.waiting.get(message.id!)?.(message.results!);
        this.waiting.delete(message.id!);
      }
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  load(url: string, headers: Record<string, string>, bodies: string[]): Promise<void> {
    return new Promise((resolve) => {
      const loaded = (message: { type: string }) => {
        if (message.type !== 'loaded') return;
        this.child.off('message', loaded);
        resolve();
      };
      this.child.on('message', loaded);
      this.child.send({ type: 'load', url, headers, bodies });
    });
  }

  send(indices: number[], concurrency: number): Promise<{ i: number; status: number; ms: number }[]> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.child.send({ type: 'send', id, indices, concurrency });
    });
  }

  stop(): void {
    this.child.disconnect();
  }
}

/** Runs one phase and measures its rate, latency and the Temporal server's CPU per item. */
async function phase(
  pid: number | undefined,
  count: number,
  concurrency: number,
  work: (i: number) => Promise<void>,
): Promise<Phase> {
  const cpu0 = await processCpuMs(pid);
  const own0 = ownCpuMs();
  const t0 = performance.now();
  const latencies = await runConcurrently(count, concurrency, work);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = { temporal: (await processCpuMs(pid)) - cpu0, bench: ownCpuMs() - own0 };
  return phaseFigures(count, concurrency, seconds, latencies, cpu);
}

/**
 * A phase through the ingress: the sender posts `indices`, `concurrency` at a time; `answered` hears
 * each answer (status 0: none). Measures as phase() does, plus the sender's CPU.
 */
async function sentPhase(
  pid: number | undefined,
  sender: Sender,
  indices: number[],
  concurrency: number,
  answered: (i: number, status: number) => void,
): Promise<Phase> {
  const cpu0 = await processCpuMs(pid);
  const sender0 = await processCpuMs(sender.pid);
  const main0 = await mainThreadCpuMs();
  const own0 = ownCpuMs();
  const t0 = performance.now();
  const results = await sender.send(indices, concurrency);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = {
    temporal: (await processCpuMs(pid)) - cpu0,
    bench: ownCpuMs() - own0,
    sender: (await processCpuMs(sender.pid)) - sender0,
  };
  const main = (await mainThreadCpuMs()) - main0;
  for (const { i, status } of results) answered(i, status);
  const latencies = results.map((r) => r.ms).sort((a, b) => a - b);
  return {
    ...phaseFigures(indices.length, concurrency, seconds, latencies, cpu),
    benchMainThreadCpuMsPer: round2(main / indices.length),
  };
}

async function terminateAll(client: Client, ids: Iterable<string>): Promise<void> {
  for (const id of ids) {
    await client.workflow
      .getHandle(id)
      .terminate('benchmark finished')
      .catch(() => undefined);
  }
}

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  const cleanups: (() => Promise<void>)[] = [];
  const log = (line: string) => process.stderr.write(`[bench alerts] ${line}\n`);
  try {
    const temporal = await ensureTemporal(log);
    cleanups.push(() => temporal.stop());
    // Imported after the address is known: the bed helpers read it from the environment.
    const { connectTestClient, runTestWorker, uniqueTaskQueue } = await import('../test/bed/worker');
    const { client, connection } = await connectTestClient();
    cleanups.push(() => connection.close());
    const pid = await temporalServerPid(process.env.FIREBREAK_TEST_TEMPORAL_ADDRESS ?? '');
    if (pid === undefined) log('the Temporal server is not a local process: no CPU figures');
    const taskQueue = uniqueTaskQueue('bench-alerts');
    const bareQueue = uniqueTaskQueue('bench-bare');
    const world = new FakeWorld();
    // Cleanups run in reverse: the workers stop first, then their workflows are terminated quietly.
    const bareIds = new Set<string>();
    cleanups.push(async () => {
      await terminateAll(client, await workflowsOnQueue(client, taskQueue));
      await terminateAll(client, bareIds);
    });
    const worker = await runTestWorker({ activities: world.activities(), taskQueue });
    cleanups.push(() => worker.stop());
    const bare = await runTestWorker({
      activities: {},
      taskQueue: bareQueue,
      workflowsPath: fileURLToPath(new URL('./workflows/bare.ts', import.meta.url)),
    });
    cleanups.push(() => bare.stop());
    const sink = taskQueue;
    const ingress = await startTestIngress({
      client,
      taskQueue,
      policy: DEFAULT_POLICY,
      configYaml: oomRoutesYaml(sink),
      env: { FIREBREAK_WEBHOOK_TOKEN: TOKEN },
    });
    cleanups.push(() => ingress.close());
    const url = `${ingress.url}/webhooks/alertmanager`;

    // Notification i goes to group i % G and carries two of the group's fingerprints, so by the
    // end every group has been told of all of them, across many notifications.
    const groupKey = (run: string, g: number) =>
      `{}:{alertname="ContainerOOMKilled", bench="${sink}", run="${run}", group="${g}"}`;
    const body = (run: string, i: number, groups: number) => {
      const g = i % groups;
      const round = Math.floor(i / groups);
      const fingerprints = [round % FINGERPRINTS_PER_GROUP, (round * 3 + 1) % FINGERPRINTS_PER_GROUP];
      return JSON.stringify(
        alertmanagerPayload({
          receiver: RECEIVER,
          groupKey: groupKey(run, g),
          alerts: [...new Set(fingerprints)].map((f) =>
            oomAlert(sink, `${run}-g${g}-f${f}`, { deployment: `checkout-${run}-${g}`, pod: `checkout-${g}-${f}` }),
          ),
        }),
      );
    };
    // What a bare loop sends: the very signal the ingress would, so payloads weigh the same.
    const signalOf = (text: string): AlertNotification => {
      const parsed = parsePayload('alertmanager', JSON.parse(text));
      if (!parsed.ok) throw new Error(parsed.message);
      return notificationSignals(toNotification('alertmanager', parsed.payload, new Date()))[0]!;
    };
    const is2xx = (status: number) => status >= 200 && status < 300;
    /**
     * What Alertmanager does with notifications not answered 2xx: sends them again, round after round
     * with doubling backoff, until answered 2xx or the rounds run out. `answered` hears each answer.
     */
    const resend = async (failed: number[], concurrency: number, answered: (i: number, status: number) => void) => {
      const t0 = performance.now();
      let retries = 0;
      let rounds = 0;
      for (; rounds < RETRY_ROUNDS && failed.length > 0; rounds++) {
        await new Promise((r) => setTimeout(r, RETRY_BACKOFF_MS * 2 ** rounds));
        const batch = failed.splice(0);
        retries += batch.length;
        log(`re-sending ${batch.length} notifications not answered 2xx (round ${rounds + 1} of ${RETRY_ROUNDS})`);
        for (const { i, status } of await sender.send(batch, concurrency)) {
          answered(i, status);
          if (!is2xx(status)) failed.push(i);
        }
      }
      return {
        retries,
        rounds,
        seconds: Number(((performance.now() - t0) / 1000).toFixed(2)),
        neverAnswered2xx: failed.length,
      };
    };
    const bareSignalWithStart = (id: string, signal: AlertNotification) => {
      bareIds.add(id);
      return client.workflow
        .signalWithStart('bareAlertWorkflow', {
          taskQueue: bareQueue,
          workflowId: id,
          args: [],
          signal: bareAlertSignal,
          signalArgs: [signal],
        })
        .then(() => undefined);
    };

    // 1, 2: the floors for the burst, over the same number of groups.
    const floorRun = randomUUID().slice(0, 6);
    const floorBodies = Array.from({ length: options.floorNotifications }, (_, i) =>
      signalOf(body('floor', i, options.groups)),
    );
    log(`floor: ${options.floorNotifications} bare signal-with-starts over ${options.groups} workflows`);
    const floorSws = await phase(pid, options.floorNotifications, options.floorConcurrency, (i) =>
      bareSignalWithStart(`bare-${floorRun}-${i % options.groups}`, floorBodies[i]!),
    );
    log(`floor: ${options.floorNotifications} bare signals to those workflows`);
    const floorSignal = await phase(pid, options.floorNotifications, options.floorConcurrency, (i) =>
      client.workflow.getHandle(`bare-${floorRun}-${i % options.groups}`).signal(bareAlertSignal, floorBodies[i]!),
    );

    // 3: the burst through the ingress.
    const run = randomUUID().slice(0, 6);
    const bodies = Array.from({ length: options.notifications }, (_, i) => body(run, i, options.groups));
    // The new groups' notifications follow the burst's in the sender's list.
    const newRun = randomUUID().slice(0, 6);
    const newBodies = Array.from({ length: options.newGroups }, (_, i) => body(newRun, i, options.newGroups));
    const sender = new Sender();
    cleanups.push(async () => sender.stop());
    await sender.load(url, { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, [
      ...bodies,
      ...newBodies,
    ]);
    // Per incident: its fingerprints, the notifications sent to it (re-sends included) and those answered 2xx.
    const expected = new Map<string, { fingerprints: Set<string>; sent: number; answered2xx: number }>();
    const incidentOf: string[] = [];
    for (const text of bodies) {
      const payload = JSON.parse(text) as { groupKey: string; alerts: { fingerprint: string }[] };
      const id = alertWorkflowId('alertmanager', 'firebreak.bench', payload.groupKey);
      const entry = expected.get(id) ?? { fingerprints: new Set<string>(), sent: 0, answered2xx: 0 };
      for (const alert of payload.alerts) entry.fingerprints.add(alert.fingerprint);
      expected.set(id, entry);
      incidentOf.push(id);
    }
    log(
      `burst: ${options.notifications} notifications over ${options.groups} groups, ${options.concurrency} at a time`,
    );
    // Only a 2xx promises the notification is recorded; the rest are sent again, as Alertmanager does.
    const burstStatuses: Record<number, number> = {};
    const burstRetryStatuses: Record<number, number> = {};
    const burstFailed: number[] = [];
    const burstAnswer = (statuses: Record<number, number>) => (i: number, status: number) => {
      statuses[status] = (statuses[status] ?? 0) + 1;
      const entry = expected.get(incidentOf[i]!)!;
      entry.sent += 1;
      if (is2xx(status)) entry.answered2xx += 1;
      else if (statuses === burstStatuses) burstFailed.push(i);
    };
    const burst = await sentPhase(
      pid,
      sender,
      bodies.map((_, i) => i),
      options.concurrency,
      burstAnswer(burstStatuses),
    );
    const burstRetries = await resend(burstFailed, options.concurrency, burstAnswer(burstRetryStatuses));

    // Exactness: every notification in its incident's history once; every fingerprint folded.
    const verifyStarted = performance.now();
    // Visibility is written after the history, asynchronously on a real cluster: wait for it to catch up.
    let incidents: string[] = [];
    for (let i = 0; i < 80 && incidents.length < expected.size; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 250));
      incidents = (await workflowsOnQueue(client, taskQueue)).filter((id) => expected.has(id));
    }
    const wrongCounts: string[] = [];
    const missingFingerprints: string[] = [];
    let signalsRecorded = 0;
    let notificationsRecorded = 0;
    // Recorded beyond those answered 2xx: requests answered non-2xx that landed all the same, then re-sent.
    let recordedBeyond2xx = 0;
    const workflowTasks: number[] = [];
    const activities: number[] = [];
    for (const [id, want] of expected) {
      const handle = client.workflow.getHandle(id);
      try {
        // A notification split over several signals is one: its first part counts it, as the incident does.
        const recorded = async () => {
          const events = await signalEvents(handle);
          return { events, notifications: events.filter((e) => (e.notification.part?.index ?? 1) === 1).length };
        };
        // A signal that arrived during a workflow task shows in the history once that task completes.
        let { events, notifications } = await recorded();
        for (let i = 0; i < 40 && notifications < want.answered2xx; i++) {
          await new Promise((r) => setTimeout(r, 250));
          ({ events, notifications } = await recorded());
        }
        signalsRecorded += new Set(events.map((e) => e.eventId)).size;
        notificationsRecorded += notifications;
        recordedBeyond2xx += Math.max(0, notifications - want.answered2xx);
        // What the burst cost each incident: workflow tasks and activities (the card, the thread, the runbook).
        const historyEvents = (await handle.fetchHistory()).events ?? [];
        workflowTasks.push(historyEvents.filter((e) => e.workflowTaskCompletedEventAttributes).length);
        activities.push(historyEvents.filter((e) => e.activityTaskScheduledEventAttributes).length);
        if (notifications < want.answered2xx || notifications > want.sent) {
          wrongCounts.push(`${id}: ${notifications} recorded, ${want.answered2xx} answered 2xx, ${want.sent} sent`);
        }
        await eventually(
          `every fingerprint of ${id}`,
          async () => {
            const record = await handle.query(statusQuery);
            const seen = new Set(record.alerts.map((a) => a.fingerprint));
            return [...want.fingerprints].every((f) => seen.has(f)) && seen.size === want.fingerprints.size
              ? true
              : undefined;
          },
          10_000,
          250,
        );
      } catch (err) {
        missingFingerprints.push(`${id}: ${(err as Error).message}`);
      }
    }
    const verifySeconds = Number(((performance.now() - verifyStarted) / 1000).toFixed(2));

    // 3b: the floor at the burst's batching: bare `alerts` signals carrying as many notifications as
    // the burst's signals did on average, to the floor's workflows, one in flight per workflow at most.
    const perSignal = Math.max(1, Math.round(options.notifications / Math.max(1, signalsRecorded)));
    const batchedSignals = Math.max(1, Math.ceil(options.floorNotifications / perSignal));
    const batch = Array.from({ length: perSignal }, (_, k) => floorBodies[k % floorBodies.length]!);
    log(`floor: ${batchedSignals} bare signals of ${perSignal} notifications each (the burst's batching)`);
    const floorBatchedSignals = await phase(pid, batchedSignals, Math.min(options.groups, options.concurrency), (i) =>
      client.workflow.getHandle(`bare-${floorRun}-${i % options.groups}`).signal(bareAlertsSignal, batch),
    );
    const floorBatched = {
      notificationsPerSignal: perSignal,
      ...floorBatchedSignals,
      notifications: batchedSignals * perSignal,
      notificationsPerSecond: round1((batchedSignals * perSignal) / floorBatchedSignals.seconds),
    };

    // 4, 5: new incidents, against bare signal-with-starts of new ids.
    log(`new incidents: ${options.newGroups} bare signal-with-starts of new workflows`);
    const newFloorBody = signalOf(body('floor', 0, 1));
    const newFloor = await phase(pid, options.newGroups, options.floorConcurrency, (i) =>
      bareSignalWithStart(`bare-new-${newRun}-${i}`, newFloorBody),
    );
    log(`new incidents: ${options.newGroups} groups through the ingress, one notification each`);
    const newStatuses: Record<number, number> = {};
    const newRetryStatuses: Record<number, number> = {};
    const newFailed: number[] = [];
    const newAnswer = (statuses: Record<number, number>) => (i: number, status: number) => {
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (!is2xx(status) && statuses === newStatuses) newFailed.push(i);
    };
    // Through the ingress at the floor's concurrency: one notification per group, nothing to coalesce.
    const newIncidents = await sentPhase(
      pid,
      sender,
      newBodies.map((_, i) => options.notifications + i),
      options.floorConcurrency,
      newAnswer(newStatuses),
    );
    const newRetries = await resend(newFailed, options.floorConcurrency, newAnswer(newRetryStatuses));

    const ratio = (a: number, b: number) => Number((a / b).toFixed(2));
    const sum = (values: number[]) => values.reduce((n, v) => n + v, 0);
    const non2xx = (counts: Record<string, number>) =>
      Object.entries(counts)
        .filter(([status]) => Number(status) < 200 || Number(status) >= 300)
        .reduce((n, [, c]) => n + c, 0);
    const result = {
      notifications: options.notifications,
      groups: options.groups,
      concurrency: options.concurrency,
      floorConcurrency: options.floorConcurrency,
      floorSignalWithStart: floorSws,
      floorSignal: floorSignal,
      floorBatched,
      burst: {
        ...burst,
        statuses: burstStatuses,
        non2xx: non2xx(burstStatuses),
        resent: { ...burstRetries, statuses: burstRetryStatuses },
        incidents: incidents.length,
        notificationsRecorded,
        recordedBeyond2xx,
        groupsWithWrongCounts: wrongCounts.length,
        groupsMissingFingerprints: missingFingerprints.length,
        signalsPerNotification: ratio(signalsRecorded, options.notifications),
        notificationsPerIncident: Math.round(options.notifications / options.groups),
        perIncident: {
          workflowTasks: { mean: ratio(sum(workflowTasks), workflowTasks.length), max: Math.max(...workflowTasks) },
          activities: { mean: ratio(sum(activities), activities.length), max: Math.max(...activities) },
        },
        verifySeconds,
        vsSignalWithStartFloor: ratio(burst.perSecond, floorSws.perSecond),
        vsSignalFloor: ratio(burst.perSecond, floorSignal.perSecond),
        vsBatchedFloor: ratio(burst.perSecond, floorBatched.notificationsPerSecond),
      },
      newIncidents: {
        ...newIncidents,
        statuses: newStatuses,
        non2xx: non2xx(newStatuses),
        resent: { ...newRetries, statuses: newRetryStatuses },
        floor: newFloor,
        vsSignalWithStartFloor: ratio(newIncidents.perSecond, newFloor.perSecond),
      },
    };
    const failures = [
      ...(incidents.length !== options.groups ? [`${incidents.length} incidents, expected ${options.groups}`] : []),
      ...(burstRetries.neverAnswered2xx > 0
        ? [`${burstRetries.neverAnswered2xx} burst notifications never answered 2xx in ${RETRY_ROUNDS} re-sends`]
        : []),
      ...(newRetries.neverAnswered2xx > 0
        ? [`${newRetries.neverAnswered2xx} new-group notifications never answered 2xx in ${RETRY_ROUNDS} re-sends`]
        : []),
      ...(wrongCounts.length > 0
        ? [
            `${wrongCounts.length} incidents missing a notification answered 2xx or holding one more often than sent: ` +
              wrongCounts.slice(0, 3).join('; '),
          ]
        : []),
      ...(missingFingerprints.length > 0 ? [`${missingFingerprints.length} groups missing fingerprints`] : []),
    ];
    // Figures on the cluster on PostgreSQL (`--temporal postgres`) are kept apart from the dev server's.
    const temporalKind = process.env.FIREBREAK_TEST_TEMPORAL_KIND === 'postgres' ? 'postgres' : 'dev';
    const out = await writeBenchResult(temporalKind === 'postgres' ? 'alerts-postgres' : 'alerts', {
      temporal: temporalKind,
      ...result,
      ok: failures.length === 0,
      failures,
    });
    if (options.json) {
      console.log(JSON.stringify({ ...result, ok: failures.length === 0, failures }));
    } else {
      const line = (name: string, p: Phase) =>
        `${name}: ${p.count} in ${p.seconds} s = ${p.perSecond}/s (${p.concurrency} in flight); latency p50 ` +
        `${p.latencyMs.p50} ms, p99 ${p.latencyMs.p99} ms; CPU ms each: Temporal ${p.temporalCpuMsPer}, ` +
        `benchmark process ${p.benchCpuMsPer}` +
        (p.benchMainThreadCpuMsPer !== undefined ? ` (main thread ${p.benchMainThreadCpuMsPer})` : '') +
        (p.senderCpuMsPer !== undefined ? `, sender ${p.senderCpuMsPer}` : '');
      console.log(`Temporal: ${temporalKind === 'postgres' ? 'server on PostgreSQL' : 'dev server (SQLite)'}`);
      console.log(line('floor signal-with-start', floorSws));
      console.log(line('floor signal', floorSignal));
      console.log(
        `${line(`floor at the burst's batching (signals of ${perSignal})`, floorBatchedSignals)}; ` +
          `${floorBatched.notificationsPerSecond} notifications/s`,
      );
      console.log(
        `${line('burst through the ingress', burst)}; ${result.burst.incidents} incidents; ` +
          `${result.burst.signalsPerNotification} signals per notification; per incident ` +
          `(${result.burst.notificationsPerIncident} notifications) ${result.burst.perIncident.workflowTasks.mean} workflow ` +
          `tasks and ${result.burst.perIncident.activities.mean} activities on average; ` +
          `${result.burst.vsSignalWithStartFloor}× the signal-with-start floor, ${result.burst.vsSignalFloor}× the signal floor, ` +
          `${result.burst.vsBatchedFloor}× the floor at its batching`,
      );
      const answers = (first: Record<string, number>, again: { retries: number; statuses: Record<string, number> }) =>
        `answers ${JSON.stringify(first)}, ${again.retries} re-sent (answered ${JSON.stringify(again.statuses)})`;
      console.log(
        `burst delivery: ${answers(burstStatuses, result.burst.resent)}; ${notificationsRecorded} notifications ` +
          `recorded, ${recordedBeyond2xx} beyond those answered 2xx`,
      );
      console.log(line('floor new workflows (signal-with-start)', newFloor));
      console.log(
        `${line('new incidents through the ingress', newIncidents)}; ${result.newIncidents.vsSignalWithStartFloor}× the floor; ` +
          answers(newStatuses, result.newIncidents.resent),
      );
      console.log(failures.length === 0 ? 'PASS' : `FAIL: ${failures.join('; ')}`);
      console.log(`written ${out}`);
    }
    return failures.length === 0 ? 0 : 1;
  } finally {
    for (const step of cleanups.reverse()) {
      try {
        await step();
      } catch (err) {
        log(`cleanup failed: ${(err as Error).message}`);
      }
    }
  }
}

main()
  .then((code) => process.exit(code))
  .catch((err) => {
    console.error(err);
    process.exit(1);
  });

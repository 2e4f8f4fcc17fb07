/**
 * The chaos sweep (issue 21): for a runbook and a trigger, record a clean run and the list of its
 * boundaries from the workflow history (each activity's scheduled, started and completed events,
 * each timer, each update and signal); then, for a boundary k, run the same incident again on the
 * real engine (`firebreak start` as a child process), SIGKILL the engine the moment boundary k
 * shows (the history is long-polled; an activity's start is seen in the execution's pending
 * activities, because Temporal writes ActivityTaskStarted only when the attempt ends), start it
 * again, let a scripted on-call engineer finish the incident through the CLI, and compare what the
 * world holds with the clean run: the Deployment and its ReplicaSets, how often each mutation was
 * applied, the Slack cards and thread posts, the PagerDuty events, the postmortem's mitigations
 * and decisions.
 *
 * Boundaries are derived from histories, never listed per runbook, so a kernel change that adds or
 * moves activities changes the sweep without an edit here.
 */
import { randomBytes } from 'node:crypto';
import { WorkflowFailedError } from '@temporalio/client';
import type { V1Deployment } from '@kubernetes/client-node';
import type { temporal } from '@temporalio/proto';
import type { IncidentRecord } from '../../common/types';
import { semanticEqual, withoutHashLabel, type RawPodTemplate } from '../../activities/kubernetes/kubectl';
import { CLUSTER_CHANGES } from '../../postmortem/activity-names';
import type { Postmortem } from '../../postmortem/model';
import { eventually, SLACK_CHANNEL, sleep, type World } from '../e2e/harness';
import { activityHookOf, type ActivityHook, type ActivityPhase } from './activity-hook';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** One point of an incident's history at which the engine can be killed. */
export interface Boundary {
  /**
   * Stable across runs of the same incident: `<kind>:<name>#<occurrence>` — activities by type,
   * timers by nominal length (`timer-started:3600s#1`: the first timer of about an hour; its fired
   * boundary is `timer-fired:3600s#1`), updates and signals by name.
   */
  key: string;
  kind: 'scheduled' | 'started' | 'completed' | 'timer-started' | 'timer-fired' | 'update' | 'signal';
}

/**
 * What is killed at a boundary (FIREBREAK_CHAOS_KILL): the engine (`worker`: `firebreak start`,
 * worker and ingress), the embedded Temporal dev server `firebreak start` spawned (`server`: the
 * engine keeps running, its supervisor starts the server again on the same port and SQLite file,
 * and the harness waits until the engine serves again), or both together (`both`: the engine is
 * started again and brings its embedded server back).
 */
export type KillTarget = 'worker' | 'server' | 'both';

export const KILL_TARGETS: readonly KillTarget[] = ['worker', 'server', 'both'];

/**
 * SIGKILLs `target` and brings it back; server kills need a world with `embeddedTemporal`.
 * `killed` runs once the kill is done, before the restart (it lets a held activity attempt go).
 */
export async function killAndRestart(world: World, target: KillTarget, killed: () => void = () => {}): Promise<void> {
  if (target === 'worker') {
    await world.engine.kill('SIGKILL');
    killed();
    await world.engine.start();
  } else if (target === 'server') {
    if ((await world.killTemporalServer()) === 0) throw new Error('no embedded Temporal server to kill');
    killed();
    // `firebreak start` supervises its server and starts it again itself, as in production.
    await world.awaitTemporalServerBack();
  } else {
    await Promise.all([world.engine.kill('SIGKILL'), world.killTemporalServer()]);
    killed();
    await world.engine.start();
  }
}

/** What one run of a scenario needs: a cluster set up in its own namespace, and a trigger. */
export interface Scenario {
  /** Runbook id, for the report. */
  runbook: string;
  /** How the incident starts (`slack`, `cli`, `alert`), for the report. */
  trigger: string;
  /** Creates the target in `namespace`; the service endpoint's health is the scenario's to set. */
  setUp(world: World, namespace: string): Promise<void>;
  /** Starts the incident; returns its workflow id. */
  start(world: World, namespace: string): Promise<string>;
  /** Routes the engine's config needs for this trigger (alert scenarios). */
  routes?: Record<string, unknown>[];
}

/** What a run leaves behind, normalised so two runs of the same incident compare equal. */
export interface Observation {
  boundaries: Boundary[];
  cluster: unknown;
  /** Completed cluster-changing activities, by name, from the postmortem. */
  mutations: Record<string, number>;
  slack: { cards: number; threadPosts: Record<string, number> };
  pages: Record<string, number>;
  postmortem: { status: string; mitigations: unknown[]; decisions: unknown[] };
  /** What the deployment controller had not finished when the run was first read (not compared). */
  controllerLag?: string;
  /**
   * Activities the history shows retried (not compared): after a kill at `started:X#n`, X#n's
   * first attempt died with the engine and a later one completed.
   */
  retried?: string[];
}

export interface RunResult {
  workflowId: string;
  observation: Observation;
  /** The boundary the engine was killed at, when it was reached. */
  killed?: string;
  ms: number;
  /** Where the run's wall time went, in ms (setUp, start, untilKill, restart, incident, observe, …). */
  phases?: Record<string, number>;
}

// ---- boundaries from a history ---------------------------------------------------------------------

/** Round lengths, in seconds: 1, 2, 5, 10, 15, 20, 30 s and min; 1, 2, 3, 4, 6, 8, 12 h; 1–7 d. */
const ROUND_SECONDS = [
  ...[1, 2, 5, 10, 15, 20, 30].flatMap((n) => [n, n * 60]),
  ...[1, 2, 3, 4, 6, 8, 12].map((h) => h * 3600),
  ...[1, 2, 3, 4, 5, 6, 7].map((d) => d * 86_400),
].sort((a, b) => a - b);

/**
 * A timer's nominal length: its length rounded up to a round one. The workflows set most of their
 * timers as what is left of a deadline (`openedAt + maxOpen - now`, the response plan's
 * `ackAt + deadline - now`, `openedAt + gateDeadline - now`, the verification window's last poll
 * `min(poll, end - now)`), so a timer's exact length depends on how long the incident took to get
 * there — and a kill run, which restarts the engine on the way, takes longer. The policies' and the
 * kernel's lengths are round (2 s courier grace, 900 s, 20 min, 1 h, 7 d, …), and what is left of
 * one stays above the next round length below it unless the incident is late by more than that gap
 * (5 min before 15 min, 1 h before 2 h, a day before 7 d). Longer than 7 days: whole weeks.
 */
export function nominalSeconds(ms: number): number {
  const seconds = Math.max(ms, 1) / 1000;
  return ROUND_SECONDS.find((round) => seconds <= round) ?? Math.ceil(seconds / 604_800) * 604_800;
}

/**
 * Turns history events into boundary keys, in order. Stateful so the chaos watcher can feed it the
 * events as they arrive and the clean run can feed it a whole history: both number occurrences
 * the same way.
 */
export class BoundaryReader {
  private readonly counts = new Map<string, number>();
  /** Scheduled event id → `<activity type>#<occurrence>`. */
  readonly activities = new Map<string, string>();
  /** Activity id (as pending activities report it) → `<activity type>#<occurrence>`. */
  readonly activityIds = new Map<string, string>();
  /** TimerStarted event id → `<nominal length>s#<occurrence>`. */
  private readonly timers = new Map<string, string>();
  private readonly updates = new Map<string, string>();
  /** Activities whose last attempt was not their first (`postTimelineEntry#1 (attempt 2)`). */
  readonly retried: string[] = [];

  private next(base: string): string {
    const n = (this.counts.get(base) ?? 0) + 1;
    this.counts.set(base, n);
    return `${base}#${n}`;
  }

  read(event: HistoryEvent): Boundary[] {
    const id = String(event.eventId ?? '');
    const scheduled = event.activityTaskScheduledEventAttributes;
    if (scheduled) {
      const name = this.next(`activity:${scheduled.activityType?.name ?? '?'}`).slice('activity:'.length);
      this.activities.set(id, name);
      if (scheduled.activityId) this.activityIds.set(scheduled.activityId, name);
      return [{ key: `scheduled:${name}`, kind: 'scheduled' }];
    }
    const started = event.activityTaskStartedEventAttributes;
    if (started) {
      const name = this.activities.get(String(started.scheduledEventId));
      if ((started.attempt ?? 1) > 1) this.retried.push(`${name} (attempt ${started.attempt})`);
      return [{ key: `started:${name}`, kind: 'started' }];
    }
    const completed = event.activityTaskCompletedEventAttributes;
    if (completed) {
      return [{ key: `completed:${this.activities.get(String(completed.scheduledEventId))}`, kind: 'completed' }];
    }
    const timer = event.timerStartedEventAttributes;
    if (timer) {
      const timeout = timer.startToFireTimeout;
      const ms = Number(timeout?.seconds ?? 0) * 1000 + Math.ceil(Number(timeout?.nanos ?? 0) / 1e6);
      const name = this.next(`timer:${nominalSeconds(ms)}s`).slice('timer:'.length);
      this.timers.set(id, name);
      return [{ key: `timer-started:${name}`, kind: 'timer-started' }];
    }
    const fired = event.timerFiredEventAttributes;
    if (fired) {
      return [{ key: `timer-fired:${this.timers.get(String(fired.startedEventId)) ?? '?'}`, kind: 'timer-fired' }];
    }
    const accepted = event.workflowExecutionUpdateAcceptedEventAttributes;
    if (accepted) {
      const name = accepted.acceptedRequest?.input?.name ?? '?';
      const key = this.next(`update:${name}`);
      if (accepted.protocolInstanceId) this.updates.set(accepted.protocolInstanceId, key);
      return [{ key, kind: 'update' }];
    }
    const completedUpdate = event.workflowExecutionUpdateCompletedEventAttributes;
    if (completedUpdate) {
      const accepted = this.updates.get(completedUpdate.meta?.updateId ?? '');
      return [{ key: `${accepted ?? 'update:?'}:completed`, kind: 'update' }];
    }
    const signal = event.workflowExecutionSignaledEventAttributes;
    if (signal) return [{ key: this.next(`signal:${signal.signalName ?? '?'}`), kind: 'signal' }];
    return [];
  }
}

export async function historyEvents(world: World, workflowId: string): Promise<HistoryEvent[]> {
  const history = await world.client.workflow.getHandle(workflowId).fetchHistory();
  return history.events ?? [];
}

export function boundariesOf(events: HistoryEvent[]): Boundary[] {
  return readHistory(events).boundaries;
}

/** The boundaries of a history and the activities it retried. */
export function readHistory(events: HistoryEvent[]): { boundaries: Boundary[]; retried: string[] } {
  const reader = new BoundaryReader();
  const boundaries = events.flatMap((event) => reader.read(event));
  return { boundaries, retried: reader.retried };
}

// ---- killing the engine at a boundary ------------------------------------------------------------

const CLOSED = [
  'workflowExecutionCompletedEventAttributes',
  'workflowExecutionFailedEventAttributes',
  'workflowExecutionTerminatedEventAttributes',
  'workflowExecutionCanceledEventAttributes',
  'workflowExecutionContinuedAsNewEventAttributes',
] as const;

/**
 * Watches an incident's history (long poll: the server answers as soon as events are appended) and
 * resolves with the boundary once `target` appears, or undefined when the incident closes first or
 * `stop()` is called. The history holds an activity's started event only once the attempt is over,
 * so a started boundary is seen otherwise: with the world's activity hook (attachActivityHook), as
 * the attempt announces itself — at `phase` — and the attempt is held there until `release()` (the
 * engine is killed meanwhile) or `stop()`; without it, in the pending activities, polled every 25 ms
 * (an attempt shorter than that is missed: "not reached").
 */
export function watchFor(
  world: World,
  workflowId: string,
  target: Boundary,
  phase: ActivityPhase = 'end',
): { reached: Promise<string | undefined>; stop: () => void; release: () => void } {
  let stopped = false;
  const reader = new BoundaryReader();
  const service = world.client.workflowService;
  const namespace = world.client.options.namespace;
  let abort = new AbortController();
  const onStop: (() => void)[] = [];
  let release = () => {};
  const stop = () => {
    stopped = true;
    abort.abort();
    for (const run of onStop.splice(0)) run();
  };

  const fromHistory = async (): Promise<string | undefined> => {
    let nextPageToken: Uint8Array | undefined;
    while (!stopped) {
      let page;
      abort = new AbortController();
      try {
        page = await world.client.withAbortSignal(abort.signal, () =>
          service.getWorkflowExecutionHistory({
            namespace,
            execution: { workflowId },
            waitNewEvent: true,
            maximumPageSize: 1000,
            ...(nextPageToken ? { nextPageToken } : {}),
          }),
        );
      } catch (err) {
        if (stopped) return undefined;
        // Not started yet, or a transient error: look again shortly.
        if (/not found/i.test(String(err))) {
          await sleep(50);
          continue;
        }
        await sleep(200);
        continue;
      }
      for (const event of page.history?.events ?? []) {
        for (const boundary of reader.read(event)) if (boundary.key === target.key) return boundary.key;
        if (CLOSED.some((attr) => event[attr])) return undefined;
      }
      if (page.nextPageToken && page.nextPageToken.length > 0) nextPageToken = page.nextPageToken;
    }
    return undefined;
  };

  const fromPendingActivities = async (): Promise<string | undefined> => {
    const wanted = target.key.slice('started:'.length);
    const handle = world.client.workflow.getHandle(workflowId);
    while (!stopped) {
      try {
        const description = await handle.describe();
        for (const pending of description.raw.pendingActivities ?? []) {
          // PENDING_ACTIVITY_STATE_STARTED
          if (pending.state !== 2 || !pending.activityId) continue;
          if (reader.activityIds.get(pending.activityId) === wanted) return target.key;
        }
        if (description.status.name !== 'RUNNING') return undefined;
      } catch {
        // not started yet
      }
      await sleep(25);
    }
    return undefined;
  };

  /** The `<type>#<n>` of an activity id, once the history's scheduled event has been read (up to 5 s). */
  const knownAs = async (activityId: string): Promise<string | undefined> => {
    for (let i = 0; i < 1000 && !stopped; i += 1) {
      const name = reader.activityIds.get(activityId);
      if (name) return name;
      // The attempt can announce itself before the long poll brings its scheduled event.
      await sleep(5);
    }
    return undefined;
  };

  const fromHook = (hook: ActivityHook) =>
    new Promise<string | undefined>((resolve) => {
      const wanted = target.key.slice('started:'.length);
      const held = new Promise<void>((resolveHeld) => (release = resolveHeld));
      let found = false;
      const off = hook.on((announcement) => {
        if (found || announcement.workflowId !== workflowId || announcement.phase !== phase) return undefined;
        return (async () => {
          if ((await knownAs(announcement.activityId)) !== wanted || found || stopped) return;
          found = true;
          off();
          resolve(target.key);
          // Held until the engine is dead (worker, both) or the server is (server), then let go.
          await held;
        })();
      });
      onStop.push(() => {
        off();
        release();
        resolve(undefined);
      });
    });

  const hook = activityHookOf(world);
  // The history is read in any case: it names the activity ids and says when the incident closed.
  const history = fromHistory();
  const reached =
    target.kind === 'started'
      ? Promise.race([
          hook ? fromHook(hook) : fromPendingActivities(),
          history.then(() => new Promise<undefined>(() => undefined)),
        ])
      : history;
  return {
    // Not stopped when reached: the watcher releases the held attempt on release() or stop().
    reached: reached.then((key) => {
      if (!key) stop();
      else {
        // The history need not be read any further; a held attempt stays held until release().
        stopped = true;
        abort.abort();
      }
      return key;
    }),
    stop,
    release: () => release(),
  };
}

// ---- the on-call engineer ------------------------------------------------------------------------

const ONCALL = 'carol';

/**
 * Drives an incident to its end the same way every run, through the CLI: acknowledges it, approves
 * each pending gate (with its first choice), resolves it once mitigated, and approves the
 * restoration. Failed commands (the engine may be dead for a moment) are tried again.
 */
export async function finishIncident(world: World, workflowId: string, timeoutMs = 420_000): Promise<IncidentRecord> {
  const deadline = Date.now() + timeoutMs;
  const done = new Set<string>();
  let lastRecord: IncidentRecord | undefined;
  // Slack commands are acknowledged before the workflow starts: wait for it to exist.
  await eventually(`${workflowId} started`, () => world.client.workflow.getHandle(workflowId).describe(), 120_000, 100);
  // The result, asked again while Temporal is down (a server kill): only the workflow's own end counts.
  const closed = (async (): Promise<IncidentRecord | undefined> => {
    for (;;) {
      try {
        return (await world.client.workflow.getHandle(workflowId).result()) as IncidentRecord;
      } catch (err) {
        if (err instanceof WorkflowFailedError || Date.now() > deadline) return undefined;
        await sleep(500);
      }
    }
  })();
  const state = { closed: false };
  void closed.then(() => (state.closed = true));
  while (!state.closed) {
    if (Date.now() > deadline) {
      throw new Error(
        `${workflowId} did not finish in ${timeoutMs} ms (status ${lastRecord?.status}, step ${lastRecord?.currentStep})\n` +
          world.logs(40),
      );
    }
    const record = await world.record(workflowId).catch(() => undefined);
    if (record) lastRecord = record;
    const act = async (what: string, args: string[]) => {
      if (done.has(what)) return;
      const result = await world.cli(args, ONCALL, 30_000);
      if (result.code === 0 || /already|not pending|no pending|is (resolved|closed)/i.test(result.stderr)) {
        done.add(what);
      }
    };
    if (record) {
      if (!record.acknowledgedAt && record.status === 'open') await act('ack', ['ack', workflowId]);
      for (const gate of record.gates.filter((g) => g.status === 'pending')) {
        const choice = gate.choices?.[0];
        await act(`gate:${gate.name}:${gate.requestedAt}`, [
          'approve',
          workflowId,
          '--gate',
          gate.name,
          ...(choice ? ['--choice', choice] : []),
        ]);
      }
      // Not while a gate waits: resolving withdraws it, and an approval lost to a dead engine must
      // be given again first (as in the clean run), or the run differs by the engineer's script.
      const waiting = record.gates.some((g) => g.status === 'pending');
      if (record.status === 'mitigated' && !waiting) await act('resolve', ['resolve', workflowId]);
    }
    // Once a second: each look is a query the engine answers, and a sweep runs many incidents at once.
    await Promise.race([closed, sleep(1_000)]);
  }
  const result = await closed;
  if (!result) throw new Error(`${workflowId} closed without a result`);
  return result;
}

// ---- what a run leaves behind ----------------------------------------------------------------------

const TIME = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g;

/** Kubernetes' name-suffix alphabet (no vowels, so ordinary words do not match). */
const SAFE = '[bcdfghjklmnpqrstvwxz2456789]';
const POD_NAME = new RegExp(`-${SAFE}{6,10}-${SAFE}{5}\\b`, 'g');
const REPLICASET_NAME = new RegExp(`-${SAFE}{8,10}\\b`, 'g');

/** Names, times and generated suffixes replaced, so runs in different namespaces compare. */
function normalise(value: unknown, replacements: [string, string][]): unknown {
  let text = JSON.stringify(value);
  for (const [from, to] of replacements) text = text.split(from).join(to);
  text = text
    .replace(TIME, '<time>')
    .replace(POD_NAME, '-<rs>-<pod>')
    .replace(REPLICASET_NAME, '-<rs>')
    // Markers are keyed by a hash of the incident id (or of a restoration's own key).
    .replace(MARKER, 'firebreak.dev/<marker>-');
  return sortKeys(JSON.parse(text));
}

const MARKER = /firebreak\.dev\/[0-9a-f]{16}-/g;

/** Objects with their keys sorted: annotations written in a different order are the same annotations. */
function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => [k, sortKeys(v)]),
    );
  }
  return value;
}

/**
 * The controller's revision counter: it numbers ReplicaSets, not spec changes. Two template changes
 * close together can be rolled into one ReplicaSet (the controller saw only the second), so a chaos
 * run that made the same changes at other moments may end one revision apart. Left out; the spec,
 * `metadata.generation` (one per spec change: a doubled patch shows there) and the current
 * ReplicaSet's template are compared instead.
 */
const REVISION = 'deployment.kubernetes.io/revision';

function deploymentShape(deployment: V1Deployment, replicaSets: ReplicaSetJson[]): unknown {
  const metadata = deployment.metadata ?? {};
  const annotations = { ...(metadata.annotations ?? {}) };
  const revision = annotations[REVISION];
  delete annotations[REVISION];
  const owned = replicaSets.filter((rs) =>
    rs.metadata?.ownerReferences?.some((o) => o.kind === 'Deployment' && o.name === metadata.name),
  );
  const current = owned.find((rs) => rs.metadata?.annotations?.[REVISION] === revision);
  return {
    // generation counts spec changes: a doubled restart or env patch shows here.
    generation: metadata.generation,
    annotations,
    labels: metadata.labels ?? {},
    spec: deployment.spec,
    // The template the controller rolled out last (not how many ReplicaSets it took to get there).
    currentReplicaSet: current ? { template: current.spec?.template } : 'none',
  };
}

interface ReplicaSetJson {
  metadata?: {
    annotations?: Record<string, string>;
    name?: string;
    ownerReferences?: { kind?: string; name?: string }[];
  };
  spec?: { template?: unknown };
}

/**
 * Why the deployment controller is not done with a namespace's Deployments yet, or undefined once
 * it is: each spec observed (`status.observedGeneration` = `metadata.generation`) AND its current
 * ReplicaSet (the one the Deployment's revision annotation names) holding the spec's template.
 *
 * observedGeneration alone is not enough: a sync the controller takes as a scaling event (a replica
 * change seen together with a template change, as when restoration puts both back in quick
 * succession) scales the existing ReplicaSets and writes the status, observedGeneration included,
 * without creating the new template's ReplicaSet; and a sync that reuses an old ReplicaSet (a
 * template put back to one seen before) updates that ReplicaSet's revision and returns before the
 * Deployment's revision annotation follows. Either way the next sync finishes the job, but a read in
 * between sees an earlier template as "current" (docs/reliability.md, avalanche
 * `started:setDeploymentEnv#1`).
 */
export function controllerPending(deployments: V1Deployment[], replicaSets: ReplicaSetJson[]): string | undefined {
  for (const deployment of deployments) {
    const name = deployment.metadata?.name ?? '?';
    const generation = deployment.metadata?.generation ?? 0;
    const observed = deployment.status?.observedGeneration ?? 0;
    if (observed < generation) return `${name}: generation ${generation} observed ${observed}`;
    const revision = deployment.metadata?.annotations?.[REVISION];
    const current = replicaSets.find(
      (rs) =>
        rs.metadata?.ownerReferences?.some((o) => o.kind === 'Deployment' && o.name === name) &&
        rs.metadata?.annotations?.[REVISION] === revision,
    );
    if (!current) return `${name}: no ReplicaSet of revision ${revision ?? 'none'}`;
    const template = (current.spec?.template ?? {}) as RawPodTemplate;
    if (!semanticEqual(withoutHashLabel(template), deployment.spec?.template as RawPodTemplate)) {
      return `${name}: revision ${revision} (${current.metadata?.name ?? '?'}) holds an earlier template`;
    }
  }
  return undefined;
}

/**
 * The namespace's Deployments and ReplicaSets once the deployment controller is done with every
 * spec (controllerPending), so the current ReplicaSet is the one for that spec. `lag` says what the
 * first read found unfinished, when it did (reported, not compared).
 */
async function observedDeployments(
  world: World,
  namespace: string,
): Promise<{ deployments: V1Deployment[]; replicaSets: ReplicaSetJson[]; lag?: string }> {
  const t0 = Date.now();
  let first: string | undefined;
  let reads = 0;
  const settled = await eventually(
    `the deployment controller is done with every spec in ${namespace}`,
    async () => {
      const { items } = await world.cluster.kubectlJson<{ items: V1Deployment[] }>(['-n', namespace, 'get', 'deploy']);
      const replicaSets = await world.cluster.kubectlJson<{ items: ReplicaSetJson[] }>([
        '-n',
        namespace,
        'get',
        'replicasets',
      ]);
      const pending = controllerPending(items, replicaSets.items);
      reads += 1;
      if (pending) {
        first ??= pending;
        return undefined;
      }
      return { deployments: items, replicaSets: replicaSets.items };
    },
    60_000,
    250,
  );
  return first ? { ...settled, lag: `${first} (settled after ${reads} reads, ${Date.now() - t0} ms)` } : settled;
}

/** Where the shared stand-ins' records stood before a run, so a run counts only its own traffic. */
export interface Marks {
  pages: number;
}

export function marks(world: World): Marks {
  return { pages: world.pagerduty.events.length };
}

/**
 * The incident's cards (top-level messages naming it) and its thread, once the thread has stopped
 * growing: the kernel's courier may still be posting the last entries when the workflow closes.
 */
async function settledThread(world: World, incidentId: string) {
  const read = () => {
    const cards = world.slack.messages.filter(
      (m) => m.channel === SLACK_CHANNEL && !m.thread_ts && JSON.stringify(m.versions).includes(incidentId),
    );
    const refs = new Set(cards.map((c) => c.ts));
    return { cards, thread: world.slack.messages.filter((m) => m.thread_ts && refs.has(m.thread_ts)) };
  };
  let last = -1;
  for (let i = 0; i < 40; i += 1) {
    const now = read();
    if (now.thread.length === last) return now;
    last = now.thread.length;
    await sleep(1_000);
  }
  return read();
}

/**
 * A health probe's verdict, as the runbooks post it (`Health before recovery: healthy: HTTP 200 in
 * 3 ms`, `Health: unhealthy: no complete answer within 5000 ms`). The scenarios' health URL is the
 * test process's own endpoint, always healthy: a verdict other than healthy means the loaded test
 * process answered late, in whichever run it happened (session 8's footnote 4: the clean run's
 * probe timed out, the chaos runs' did not). The post itself still counts — a lost probe post is a
 * lost post — and a verdict that changed what the runbook did shows in the status, decisions, pages
 * and the posts that follow.
 */
const HEALTH_VERDICT = /^(Health[^:\n]*): (healthy|unhealthy|unreachable)\b.*/;

/**
 * How a thread post is known when two runs' threads are compared: its first line, durations and
 * health verdicts masked, words sorted — diagnostics' bodies (pods, events) vary from run to run,
 * and a post listing targets changed in parallel names them in either order. `text` is normalised
 * (names, times) already.
 */
export function threadPostKey(text: string): string {
  const first = (text.split('\n')[0] ?? '')
    .replace(/\d+(\.\d+)? ?(ms|s)\b/g, '<n>$2')
    .replace(HEALTH_VERDICT, '$1: <verdict>');
  return first
    .split(/[\s,]+/)
    .sort()
    .join(' ');
}

export async function observe(
  world: World,
  namespace: string,
  workflowId: string,
  record: IncidentRecord,
  since: Marks,
  phases: Record<string, number> = {},
): Promise<Observation> {
  const timed = async <T>(phase: string, work: Promise<T>): Promise<T> => {
    const started = Date.now();
    try {
      return await work;
    } finally {
      phases[phase] = Date.now() - started;
    }
  };
  const replacements: [string, string][] = [
    [workflowId, '<workflow>'],
    [record.id, '<incident>'],
    [namespace, '<ns>'],
  ];
  const { deployments, replicaSets, lag } = await timed('observe.cluster', observedDeployments(world, namespace));
  const cluster = normalise(
    { deployments: deployments.map((deployment) => deploymentShape(deployment, replicaSets)) },
    replacements,
  );
  // The pod-template-hash label is derived from the template, restartedAt included: not comparable.
  const stripHash = (value: unknown): unknown =>
    JSON.parse(JSON.stringify(value).replace(/"pod-template-hash":"[^"]*"/g, '"pod-template-hash":"<hash>"'));

  const postmortem: Postmortem = await timed('observe.postmortem', world.postmortem(workflowId));
  const mutations: Record<string, number> = {};
  for (const activity of postmortem.activities) {
    if (!CLUSTER_CHANGES.has(activity.name) || activity.outcome !== 'completed') continue;
    mutations[activity.name] = (mutations[activity.name] ?? 0) + 1;
  }

  const { cards, thread } = await timed('observe.thread', settledThread(world, record.id));
  const threadPosts: Record<string, number> = {};
  for (const message of thread) {
    const key = threadPostKey(String(normalise(message.versions[0]?.text ?? message.text ?? '', replacements)));
    threadPosts[key] = (threadPosts[key] ?? 0) + 1;
  }
  const pages: Record<string, number> = {};
  for (const event of world.pagerduty.events.slice(since.pages)) {
    // This incident's pages only (dedup_key = incident id): an earlier run's incident left open by
    // a failure must not count here.
    if ((event.body as { dedup_key?: unknown } | undefined)?.dedup_key !== record.id) continue;
    const action = String((event.body as { event_action?: unknown } | undefined)?.event_action ?? '?');
    pages[action] = (pages[action] ?? 0) + 1;
  }

  const history = readHistory(await historyEvents(world, workflowId));
  return {
    ...(lag ? { controllerLag: lag } : {}),
    ...(history.retried.length > 0 ? { retried: history.retried } : {}),
    boundaries: history.boundaries,
    cluster: stripHash(cluster),
    mutations,
    slack: { cards: cards.length, threadPosts },
    pages,
    postmortem: {
      status: postmortem.summary.status,
      // Sorted by key: mitigations on several targets are applied in parallel, in either order.
      mitigations: [...postmortem.mitigations]
        .sort((a, b) => a.key.localeCompare(b.key))
        .map((m) => normalise({ key: m.key, target: m.target, change: m.change, restored: m.restored }, replacements)),
      decisions: postmortem.decisions.map((d) =>
        normalise(
          { kind: d.kind, gate: d.gate, actor: d.actor?.id, choice: d.choice, outcome: d.outcome },
          replacements,
        ),
      ),
    },
  };
}

// ---- one run ---------------------------------------------------------------------------------------

/**
 * One incident of `scenario` in a fresh namespace; with `killAt`, the engine (or its Temporal
 * server, or both: `target`) is SIGKILLed when that boundary shows and started again at once.
 */
export async function runScenario(
  world: World,
  scenario: Scenario,
  killAt?: Boundary,
  target: KillTarget = 'worker',
  phase: ActivityPhase = 'end',
): Promise<RunResult> {
  const t0 = Date.now();
  const phases: Record<string, number> = {};
  let mark = t0;
  const lap = (phase: string) => {
    const now = Date.now();
    phases[phase] = now - mark;
    mark = now;
  };
  const namespace = await world.extraNamespace(`chaos-${randomBytes(2).toString('hex')}`);
  try {
    await scenario.setUp(world, namespace);
    lap('setUp');
    const since = marks(world);
    const workflowId = await scenario.start(world, namespace);
    lap('start');
    let killed: string | undefined;
    let restarted: Promise<void> = Promise.resolve();
    const watch = killAt ? watchFor(world, workflowId, killAt, phase) : undefined;
    if (watch) {
      restarted = watch.reached.then(async (key) => {
        if (!key) return;
        const k0 = Date.now();
        phases.untilKill = k0 - mark;
        // A started boundary's attempt, held by the activity hook, is let go once the kill is done:
        // its engine is dead (worker, both), or it goes on while the server comes back (server).
        await killAndRestart(world, target, watch.release).finally(watch.release);
        phases.restart = Date.now() - k0;
        killed = key;
      });
    }
    let record: IncidentRecord;
    try {
      record = await finishIncident(world, workflowId);
    } catch (err) {
      // An incident that did not finish is ended, so it does not page or post into later runs.
      await world.client.workflow
        .getHandle(workflowId)
        .terminate('chaos run did not finish')
        .catch(() => undefined);
      throw err;
    } finally {
      watch?.stop();
      await restarted;
    }
    lap('incident');
    const observation = await observe(world, namespace, workflowId, record, since, phases);
    lap('observe');
    return { workflowId, observation, ...(killed ? { killed } : {}), ms: Date.now() - t0, phases };
  } finally {
    await world.cluster.deleteNamespace(namespace);
  }
}

/** The fields where a chaos run differs from the clean one, each with both values; empty = same. */
export function compare(clean: Observation, chaos: Observation): string[] {
  const diffs: string[] = [];
  // Thread posts are compared by lostThreadPosts / repeatedThreadPosts; cards by count here.
  const fields: (keyof Observation)[] = ['cluster', 'mutations', 'pages', 'postmortem'];
  if (clean.slack.cards !== chaos.slack.cards) diffs.push(`cards: ${clean.slack.cards} → ${chaos.slack.cards}`);
  for (const field of fields) {
    if (JSON.stringify(clean[field]) === JSON.stringify(chaos[field])) continue;
    const lines: string[] = [];
    pathDiff(clean[field], chaos[field], field, lines);
    diffs.push(
      `${field} differs:\n${lines.slice(0, 20).join('\n')}${lines.length > 20 ? `\n  … ${lines.length - 20} more` : ''}`,
    );
  }
  return diffs;
}

/**
 * Each place two JSON values differ, by path (`cluster.deployments[0].spec.replicas`), with both
 * values: the boundary's diff names what changed, wherever it sits in a long document.
 */
export function pathDiff(a: unknown, b: unknown, path: string, out: string[]): void {
  if (JSON.stringify(a) === JSON.stringify(b)) return;
  const both = (test: (v: unknown) => boolean) => test(a) && test(b);
  if (both(Array.isArray)) {
    const left = a as unknown[];
    const right = b as unknown[];
    for (let i = 0; i < Math.max(left.length, right.length); i += 1) pathDiff(left[i], right[i], `${path}[${i}]`, out);
    return;
  }
  const isObject = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (both(isObject)) {
    const left = a as Record<string, unknown>;
    const right = b as Record<string, unknown>;
    for (const key of [...new Set([...Object.keys(left), ...Object.keys(right)])].sort()) {
      pathDiff(left[key], right[key], `${path}.${key}`, out);
    }
    return;
  }
  const show = (v: unknown) => (v === undefined ? '∅' : JSON.stringify(v).slice(0, 300));
  out.push(`  ${path}: clean ${show(a)} | chaos ${show(b)}`);
}

function excess(what: string, a: Record<string, number>, b: Record<string, number>): string[] {
  return Object.entries(b)
    .filter(([key, n]) => n > (a[key] ?? 0))
    .map(([key, n]) => `${what} ${JSON.stringify(key.slice(0, 120))}: ${a[key] ?? 0} → ${n}`);
}

/** Effects a chaos run doubled that the clean one had once: mutations, cards, pages. */
export function duplicates(clean: Observation, chaos: Observation): string[] {
  const found = [...excess('mutation', clean.mutations, chaos.mutations), ...excess('page', clean.pages, chaos.pages)];
  if (chaos.slack.cards > clean.slack.cards) found.push(`cards: ${clean.slack.cards} → ${chaos.slack.cards}`);
  return found;
}

/**
 * Thread posts a chaos run repeated. Counted apart: a timeline reply is posted at least once by
 * design (Slack's chat.postMessage has no idempotency key; activities/slack.ts says so), so a kill
 * after Slack took the post and before the activity completed repeats it. A missing post is a loss
 * and shows in compare().
 */
export function repeatedThreadPosts(clean: Observation, chaos: Observation): string[] {
  return excess('thread post', clean.slack.threadPosts, chaos.slack.threadPosts);
}

/** Thread posts of the clean run that a chaos run lacks: lost timeline entries. */
export function lostThreadPosts(clean: Observation, chaos: Observation): string[] {
  return excess('lost thread post', chaos.slack.threadPosts, clean.slack.threadPosts);
}

/**
 * The CI subset: the start of the runbook's first cluster change that is not an open finding
 * (`npm run chaos` sweeps every boundary; CI must be the same every day, so nothing rotates here).
 */
export function ciSubset(boundaries: Boundary[], openFindings: readonly string[] = []): Boundary[] {
  const mutating = (b: Boundary) => [...CLUSTER_CHANGES].some((name) => b.key.includes(`:${name}#`));
  const first = boundaries.find((b) => b.kind === 'started' && mutating(b) && !openFindings.includes(b.key));
  return first ? [first] : [];
}

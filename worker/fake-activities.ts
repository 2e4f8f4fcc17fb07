/**
 * Typed fakes of every activity group the runbooks call, over a small in-memory model of the
 * deployments, so tests can count remediation calls exactly and check restoration against the
 * values that were really replaced. One instance can serve two workers (the worker-replacement
 * tests): the call log and the model are shared. `firebreak runbooks test` runs a runbook file
 * against them (worker/runbook-test.ts), so a team tests its runbook without a cluster. This file is
 * the world (model, call log, scenario, holds on calls); the activities' bodies are in
 * fake-activity-bodies.ts.
 */
import { Context } from '@temporalio/activity';
import type { ActivityName, FirebreakActivities } from '../activities';
import type { OomKill, RevisionInfo } from '../activities/kubernetes';
import { CLUSTER_CHANGES } from '../postmortem/activity-names';
import { CONTAINER, fakeActivities } from './fake-activity-bodies';

export interface Call {
  name: ActivityName;
  input: Record<string, unknown>;
}

export interface FakeDeployment {
  replicas: number;
  env: Record<string, Record<string, string>>;
  limits: Record<string, Record<string, string>>;
  history: RevisionInfo[];
  revision: number;
  restarts: number;
}

export interface Scenario {
  /** Health answers in order; the last repeats. */
  health: boolean[];
  rolloutComplete: boolean;
  oomKills: OomKill[];
  podsRunning: boolean;
  heapProfileExitCode: number;
  /** Activities that wait on `release(name)` (or a worker shutdown) before doing anything. */
  hold: Set<ActivityName>;
  /** Prometheus not configured: diagnostics throw NOT_CONFIGURED, as the real ones do. */
  prometheus: boolean;
  /** queryPrometheus answers: each query's series values (absent = no data). */
  promql?: Record<string, number[]>;
  /** Spans the collector failed to send in checkCollectorDrops' window (0: a healthy collector). */
  collectorSendFailedSpans: number;
}

class Hold {
  release!: () => void;
  readonly released = new Promise<void>((resolve) => (this.release = resolve));
  private arrivals = 0;
  private readonly waiters: { count: number; resolve: () => void }[] = [];

  arrive(): void {
    this.arrivals += 1;
    for (const waiter of this.waiters.filter((w) => w.count <= this.arrivals)) waiter.resolve();
  }

  reached(count: number): Promise<void> {
    if (this.arrivals >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ count, resolve }));
  }
}

export class FakeWorld {
  readonly calls: Call[] = [];
  readonly deployments = new Map<string, FakeDeployment>();
  readonly scenario: Scenario;
  private readonly markers = new Map<string, unknown>();
  private readonly holds = new Map<ActivityName, Hold>();
  healthIndex = 0;

  constructor(scenario: Partial<Scenario> = {}) {
    this.scenario = {
      health: [true],
      rolloutComplete: true,
      oomKills: [],
      podsRunning: true,
      heapProfileExitCode: 0,
      hold: new Set(),
      prometheus: true,
      collectorSendFailedSpans: 0,
      ...scenario,
    };
  }

  deployment(namespace: string, name: string): FakeDeployment {
    const key = `${namespace}/${name}`;
    let deployment = this.deployments.get(key);
    if (!deployment) {
      deployment = {
        replicas: 3,
        env: { [CONTAINER]: { OTEL_TRACES_SAMPLER_ARG: '0.1' } },
        limits: { [CONTAINER]: { memory: '1Gi' } },
        history: [1, 2, 3].map((revision) => ({
          revision,
          replicaSet: `${name}-rs${revision}`,
          images: [`registry.local/${name}:v${revision}`],
          changeCause: `deploy v${revision}`,
        })),
        revision: 3,
        restarts: 0,
      };
      this.deployments.set(key, deployment);
    }
    return deployment;
  }

  /** Calls of an activity, without dry runs (which read and change nothing). */
  made(name: ActivityName, filter: (input: Record<string, unknown>) => boolean = () => true): Call[] {
    return this.calls.filter((call) => call.name === name && call.input.dryRun !== true && filter(call.input));
  }

  /** Calls that changed the cluster (dry runs excluded), optionally only one incident's. */
  mutations(marker?: string): Call[] {
    return this.calls.filter(
      (call) =>
        CLUSTER_CHANGES.has(call.name) &&
        call.input.dryRun !== true &&
        (marker === undefined || call.input.incidentId === marker),
    );
  }

  /** Resolves when a held activity has been called `count` times. */
  reached(name: ActivityName, count = 1): Promise<void> {
    return this.holdFor(name).reached(count);
  }

  release(name: ActivityName): void {
    this.scenario.hold.delete(name);
    this.holdFor(name).release();
  }

  private holdFor(name: ActivityName): Hold {
    let hold = this.holds.get(name);
    if (!hold) {
      hold = new Hold();
      this.holds.set(name, hold);
    }
    return hold;
  }

  /** Records the call; a held activity waits for release or for its worker to shut down (then fails, unrecorded). */
  async enter(name: ActivityName, input: object): Promise<void> {
    if (this.scenario.hold.has(name)) {
      const hold = this.holdFor(name);
      hold.arrive();
      await Promise.race([hold.released, Context.current().cancelled]);
    }
    this.calls.push({ name, input: { ...input } });
  }

  once<T>(marker: string, apply: () => T): { result: T; alreadyApplied: boolean } {
    if (this.markers.has(marker)) return { result: this.markers.get(marker) as T, alreadyApplied: true };
    const result = apply();
    this.markers.set(marker, result);
    return { result, alreadyApplied: false };
  }

  activities(): FirebreakActivities {
    return fakeActivities(this);
  }
}

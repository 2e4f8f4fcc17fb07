/**
 * The fake activities' bodies over a FakeWorld (worker/fake-activities.ts): each records its call
 * in the world, answers from the world's model, and changes the model as the real one changes the
 * cluster. Deployment holds are the real ones, through the test worker's own Temporal client.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { FirebreakActivities } from '../activities';
import type { PodSummary } from '../activities/kubernetes';
import { ErrorType } from '../common/errors';
import { createHoldActivities } from '../activities/hold';
import { judgeCollectorDrops, judgeTraceSettings } from '../activities/diagnostics';
import type { FakeWorld } from './fake-activities';

export const CONTAINER = 'app';

function fakeEvidence(name: string, bytes: number) {
  return {
    name,
    source: `fake ${name}`,
    path: `/evidence/${name}`,
    copies: [],
    bytes,
    sha256: 'ab'.repeat(32),
    truncated: false,
    maxBytes: 64 * 2 ** 20,
    capturedAt: '2026-01-01T00:00:00.000Z',
  };
}

export function fakeActivities(world: FakeWorld): FirebreakActivities {
  const pods = (name: string): PodSummary[] => [
    {
      name: `${name}-7d9f-abcde`,
      phase: world.scenario.podsRunning ? 'Running' : 'Pending',
      ready: world.scenario.podsRunning,
      restarts: 4,
      containers: [
        {
          name: CONTAINER,
          ready: world.scenario.podsRunning,
          restartCount: 4,
          lastTermination: { reason: 'OOMKilled', exitCode: 137 },
        },
      ],
    },
  ];
  return {
    // ---- Deployment holds: the real ones, through the test worker's own Temporal client
    ...createHoldActivities(),
    // ---- Kubernetes
    async listDeploymentPods(target) {
      await world.enter('listDeploymentPods', target);
      return pods(target.deployment);
    },
    async listRecentEvents(input) {
      await world.enter('listRecentEvents', input);
      return Array.from({ length: input.limit ?? 20 }, (_, i) => ({
        type: 'Warning',
        reason: 'BackOff',
        message: `Back-off restarting failed container (${i})`,
        object: 'Pod/checkout-7d9f-abcde',
        count: i + 1,
        lastTimestamp: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString(),
      }));
    },
    async findOomKills(target) {
      await world.enter('findOomKills', target);
      return world.scenario.oomKills;
    },
    async readPodLogs(input) {
      await world.enter('readPodLogs', input);
      return `panic: out of memory in ${input.pod}/${input.container ?? CONTAINER}\n`;
    },
    async readDeploymentSettings(input) {
      await world.enter('readDeploymentSettings', input);
      const deployment = world.deployment(input.namespace, input.deployment);
      const name = input.container ?? CONTAINER;
      return {
        replicas: deployment.replicas,
        containers: [CONTAINER],
        container: {
          name,
          env: { ...deployment.env[name] },
          envFromReference: [],
          limits: { ...deployment.limits[name] },
          requests: {},
        },
      };
    },
    async rolloutRestart(input) {
      await world.enter('rolloutRestart', input);
      const deployment = world.deployment(input.namespace, input.deployment);
      // A server-side dry run answers as the change would and stores nothing.
      if (input.dryRun) {
        return { restartedAt: new Date().toISOString(), alreadyApplied: false, generation: deployment.restarts + 2 };
      }
      const { result, alreadyApplied } = world.once(`${input.incidentId}/restart/${input.deployment}`, () => {
        deployment.restarts += 1;
        return { restartedAt: new Date().toISOString(), generation: deployment.restarts + 1 };
      });
      return { ...result, alreadyApplied };
    },
    async rolloutHistory(target) {
      await world.enter('rolloutHistory', target);
      return world.deployment(target.namespace, target.deployment).history;
    },
    async rolloutUndo(input) {
      await world.enter('rolloutUndo', input);
      const deployment = world.deployment(input.namespace, input.deployment);
      const to = input.toRevision ?? deployment.revision - 1;
      if (!deployment.history.some((r) => r.revision === to)) {
        throw ApplicationFailure.nonRetryable(`no revision ${to}`, ErrorType.REVISION_NOT_FOUND);
      }
      if (input.dryRun) return { fromRevision: deployment.revision, toRevision: to, alreadyApplied: false };
      const { result, alreadyApplied } = world.once(`${input.incidentId}/undo/${input.deployment}`, () => {
        const from = deployment.revision;
        deployment.revision = Math.max(...deployment.history.map((r) => r.revision)) + 1;
        return { fromRevision: from, toRevision: to };
      });
      return { ...result, alreadyApplied };
    },
    async waitForRollout(input) {
      await world.enter('waitForRollout', input);
      const complete = world.scenario.rolloutComplete;
      return {
        complete,
        message: complete
          ? `deployment "${input.deployment}" successfully rolled out`
          : `Waiting for deployment "${input.deployment}" rollout to finish: 1 of 3 updated replicas are available...`,
        updatedReplicas: complete ? 3 : 1,
        availableReplicas: complete ? 3 : 1,
        replicas: 3,
      };
    },
    async scaleDeployment(input) {
      await world.enter('scaleDeployment', input);
      const deployment = world.deployment(input.namespace, input.deployment);
      const previousReplicas = deployment.replicas;
      if (input.dryRun) return { previousReplicas, replicas: input.replicas, alreadyApplied: false };
      if (previousReplicas === input.replicas)
        return { previousReplicas, replicas: input.replicas, alreadyApplied: true };
      deployment.replicas = input.replicas;
      return { previousReplicas, replicas: input.replicas, alreadyApplied: false };
    },
    async setDeploymentEnv(input) {
      await world.enter('setDeploymentEnv', input);
      const container = input.container ?? CONTAINER;
      const env = (world.deployment(input.namespace, input.deployment).env[container] ??= {});
      const previous = Object.fromEntries(Object.keys(input.env).map((name) => [name, env[name] ?? null]));
      const alreadyApplied = Object.entries(input.env).every(([name, value]) => (env[name] ?? null) === value);
      if (!input.dryRun) {
        for (const [name, value] of Object.entries(input.env)) {
          if (value === null) delete env[name];
          else env[name] = value;
        }
      }
      return { container, previous, applied: input.env, alreadyApplied };
    },
    async setContainerResources(input) {
      await world.enter('setContainerResources', input);
      const container = input.container ?? CONTAINER;
      const limits = (world.deployment(input.namespace, input.deployment).limits[container] ??= {});
      const previousLimits = Object.fromEntries(Object.keys(input.limits ?? {}).map((k) => [k, limits[k] ?? null]));
      if (!input.dryRun) {
        for (const [name, value] of Object.entries(input.limits ?? {})) {
          if (value === null) delete limits[name];
          else limits[name] = value;
        }
      }
      return {
        container,
        previous: { limits: previousLimits, requests: {} },
        applied: { limits: input.limits ?? {}, requests: input.requests ?? {} },
        alreadyApplied: false,
      };
    },
    async execInPod(input) {
      await world.enter('execInPod', input);
      const ok = world.scenario.heapProfileExitCode === 0;
      return {
        exitCode: world.scenario.heapProfileExitCode,
        stdout: ok ? '48213\n' : '',
        stderr: ok ? '' : 'curl: (7) refused',
        truncated: false,
      };
    },

    // ---- Evidence: a reference to a file the fake never writes, as the real store hands back
    async capturePreviousLogs(input) {
      await world.enter('capturePreviousLogs', input);
      return fakeEvidence(`previous-logs-${input.pod}-${input.container ?? CONTAINER}.log`, 2_048);
    },
    async captureHeapProfile(input) {
      await world.enter('captureHeapProfile', input);
      if (world.scenario.heapProfileExitCode !== 0) {
        throw ApplicationFailure.nonRetryable(
          `heap profile command exited ${world.scenario.heapProfileExitCode}: curl: (7) refused`,
          ErrorType.EVIDENCE_UNAVAILABLE,
        );
      }
      return fakeEvidence(`heap-profile-${input.pod}-${input.container ?? 'default'}.prof`, 48_213);
    },
    async shareEvidence(input) {
      await world.enter('shareEvidence', input);
      return input.ref
        ? { fileId: `F${world.calls.length}`, channel: input.ref.channel, threadTs: input.ref.ts }
        : undefined;
    },

    // ---- Slack
    async publishIncidentCard(input) {
      await world.enter('publishIncidentCard', input);
      return input.ref ?? { channel: 'C-INCIDENTS', ts: '1700000000.000100' };
    },
    async postTimelineEntry(input) {
      await world.enter('postTimelineEntry', input);
      return { channel: 'C-INCIDENTS', ts: `1700000001.${String(world.calls.length).padStart(6, '0')}` };
    },
    async postApprovalRequest(input) {
      await world.enter('postApprovalRequest', input);
      return { channel: 'C-INCIDENTS', ts: `1700000002.${String(world.calls.length).padStart(6, '0')}` };
    },
    async closeApprovalRequest(input) {
      await world.enter('closeApprovalRequest', input);
    },
    async postEscalation(input) {
      await world.enter('postEscalation', input);
    },

    // ---- Diagnostics
    async checkHealth(input) {
      await world.enter('checkHealth', input);
      const healthy = world.scenario.health[Math.min(world.healthIndex++, world.scenario.health.length - 1)]!;
      return {
        url: input.url,
        healthy,
        status: healthy ? 200 : 503,
        latencyMs: 12,
        bodyExcerpt: healthy ? 'ok' : 'unavailable',
        verdict: healthy ? `${input.url} answered 200 in 12 ms` : `${input.url} answered 503`,
      };
    },
    async analyzeMemoryTrend(input) {
      await world.enter('analyzeMemoryTrend', input);
      if (!world.scenario.prometheus)
        throw ApplicationFailure.nonRetryable('PROMETHEUS_URL is not set', ErrorType.NOT_CONFIGURED);
      return {
        query: `process_resident_memory_bytes{${input.selector ?? ''}}`,
        windowSeconds: input.windowSeconds,
        thresholdBytesPerSecond: input.thresholdBytesPerSecond ?? 1_000_000,
        slopeBytesPerSecond: 2_500_000,
        leak: true,
        samples: 60,
        noData: false,
        verdict: 'resident memory grows 2.5 MB/s: a leak',
        series: [],
      };
    },
    async checkServiceRecovery(input) {
      await world.enter('checkServiceRecovery', input);
      if (!world.scenario.prometheus) {
        throw ApplicationFailure.nonRetryable('PROMETHEUS_URL is not set', ErrorType.NOT_CONFIGURED);
      }
      const services = input.services.map((service) => ({
        service,
        errorRatePerSecond: 0,
        p99Seconds: 0.05,
        recovered: true,
        problems: [],
      }));
      return { recovered: true, services, noData: false };
    },
    async queryPrometheus(input) {
      await world.enter('queryPrometheus', input);
      if (!world.scenario.prometheus)
        throw ApplicationFailure.nonRetryable('PROMETHEUS_URL is not set', ErrorType.NOT_CONFIGURED);
      const values = world.scenario.promql?.[input.query] ?? [];
      const series = values.map((value, index) => ({
        metric: { series: String(index) },
        timestamp: 1_700_000_000,
        value,
        text: String(value),
      }));
      return { query: input.query, resultType: 'vector' as const, series, empty: series.length === 0, warnings: [] };
    },
    async findAvalancheRootCauseHints(input) {
      await world.enter('findAvalancheRootCauseHints', input);
      const first = input.services[0] ?? 'unknown';
      return {
        from: '2026-01-01T00:00:00Z',
        to: '2026-01-01T00:30:00Z',
        stepSeconds: 15,
        services: [],
        firstToJump: [first],
        jumpOrder: input.services,
        requestVolume: { baseline: 100, peak: 900, jumpedAt: '2026-01-01T00:10:00Z' },
        noData: false,
        hints: [`${first} degraded first`],
        verdict: `${first} degraded first, 2 min before the others`,
      };
    },
    async checkTraceExportSettings(input) {
      await world.enter('checkTraceExportSettings', input);
      const container = input.container ?? CONTAINER;
      const env = world.deployment(input.namespace, input.deployment).env[container] ?? {};
      // The real judge over the model's env: a fake setDeploymentEnv mitigation shows in the next check.
      return judgeTraceSettings(
        {
          spec: {
            selector: {},
            template: {
              spec: {
                containers: [{ name: container, env: Object.entries(env).map(([name, value]) => ({ name, value })) }],
              },
            },
          },
        },
        input,
      );
    },
    async checkCollectorDrops(input) {
      await world.enter('checkCollectorDrops', input);
      if (!world.scenario.prometheus)
        throw ApplicationFailure.nonRetryable('PROMETHEUS_URL is not set', ErrorType.NOT_CONFIGURED);
      const vector = (query: string, values: Array<[Record<string, string>, number]>) => ({
        query,
        resultType: 'vector' as const,
        series: values.map(([metric, value]) => ({ metric, timestamp: 1767225600, value, text: String(value) })),
        empty: values.length === 0,
        warnings: [],
      });
      const failed = world.scenario.collectorSendFailedSpans;
      const exporter = { exporter: 'otlp' };
      return judgeCollectorDrops(
        {
          accepted: vector('accepted', [[{ receiver: 'otlp' }, 1000]]),
          counters: {
            otelcol_receiver_refused_spans: vector('refused', [[{ receiver: 'otlp' }, 0]]),
            otelcol_processor_dropped_spans: vector('dropped', []),
            otelcol_exporter_send_failed_spans: vector('send_failed', [[exporter, failed]]),
            otelcol_exporter_enqueue_failed_spans: vector('enqueue_failed', [[exporter, 0]]),
          },
          queueSize: vector('queue', [[exporter, failed > 0 ? 1000 : 10]]),
          queueCapacity: vector('capacity', [[exporter, 1000]]),
        },
        { from: 1767225300, to: 1767225600, queueFullRatio: input.queueFullRatio ?? 0.8 },
      );
    },

    // ---- Paging
    async triggerPage(input) {
      await world.enter('triggerPage', input);
      return { dedupKey: input.incidentId, action: 'trigger', status: 'success', message: 'Event processed' };
    },
    async acknowledgePage(input) {
      await world.enter('acknowledgePage', input);
      return { dedupKey: input.incidentId, action: 'acknowledge', status: 'success', message: 'Event processed' };
    },
    async resolvePage(input) {
      await world.enter('resolvePage', input);
      return { dedupKey: input.incidentId, action: 'resolve', status: 'success', message: 'Event processed' };
    },
    async sendPageEmail(input) {
      await world.enter('sendPageEmail', input);
      return { messageId: `<${input.pageKey}@fake>`, accepted: input.to, rejected: [] };
    },
  };
}

/**
 * runbooks/files/trace-data-loss.yaml (seed 004 chapter 1 as a runbook file): it validates, and it
 * runs end to end on the bed — the real Temporal dev server and workflow bundle, the real
 * diagnostics and Kubernetes activities against the bed's control plane, Prometheus and
 * OpenTelemetry Collector (Slack, paging and the rest are the typed fakes). A deployment with
 * injected faults behind the collector's dropping pipeline: every finding is reported, the gate
 * offers the exporter settings, approving sets them on the Deployment as temporary mitigations and
 * resolving restores them. A healthy deployment behind the healthy pipeline: nothing found,
 * nothing offered, nothing changed.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { AppsV1Api, type KubeConfig, type V1Deployment } from '@kubernetes/client-node';
import type { Client, Connection } from '@temporalio/client';
import { createDiagnosticsActivities } from '../activities/diagnostics';
import { createKubernetesActivities, type KubernetesActivities } from '../activities/kubernetes';
import { loadRunbookText } from '../client/runbook-files';
import { decideUpdate, resolveSignal } from '../domain/messages';
import { registerFileRunbooks } from '../runbooks';
import { postOtlpTraces } from './bed/otelcol';
import { connectTestClient, runTestWorker, uniqueTaskQueue, type TestWorker } from './bed/worker';
import {
  createNamespace,
  deleteNamespace,
  deploymentManifest,
  kubeTestEnv,
  loadKubeConfig,
  settled,
} from './kube/fixtures';
import { FakeWorld } from './workflows/fakes';
import {
  BOB,
  fastPolicy,
  gatePending,
  resolveAndRestore,
  startIncident,
  timelineText,
  waitForRecord,
} from './workflows/harness';

const FILE = fileURLToPath(new URL('../runbooks/files/trace-data-loss.yaml', import.meta.url));
const env = process.env;
const kube = kubeTestEnv();
const bed =
  kube &&
  env.FIREBREAK_TEST_TEMPORAL_ADDRESS &&
  env.FIREBREAK_TEST_PROMETHEUS_URL &&
  env.FIREBREAK_TEST_OTELCOL_DROPPING_OTLP_HTTP
    ? {
        prometheusUrl: env.FIREBREAK_TEST_PROMETHEUS_URL,
        healthy: env.FIREBREAK_TEST_OTELCOL_OTLP_HTTP!,
        dropping: env.FIREBREAK_TEST_OTELCOL_DROPPING_OTLP_HTTP,
      }
    : undefined;

test('trace-data-loss.yaml validates: schema, step kinds, CEL types, reachability', async () => {
  const { loaded, issues } = loadRunbookText(await readFile(FILE, 'utf8'), FILE);
  assert.deepEqual(issues, []);
  assert.equal(loaded[0]?.definition.id, 'trace-data-loss');
  const kinds = loaded[0]!.definition.steps.map((step) =>
    Object.keys(step).find((k) => !['id', 'title', 'when', 'next'].includes(k)),
  );
  assert.ok(kinds.includes('traceSettings') && kinds.includes('collectorDrops') && kinds.includes('gate'));
});

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

async function postSpans(base: string): Promise<number> {
  const now = BigInt(Date.now()) * 1_000_000n;
  const body = {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'checkout' } }] },
        scopeSpans: [
          {
            spans: [
              {
                traceId: hex(16),
                spanId: hex(8),
                name: 'GET /cart',
                kind: 2,
                startTimeUnixNano: String(now),
                endTimeUnixNano: String(now + 1_000_000n),
              },
            ],
          },
        ],
      },
    ],
  };
  return postOtlpTraces(base, body);
}

function manifest(
  name: string,
  containerEnv: Record<string, string>,
  extra: { terminationGracePeriodSeconds?: number },
  preStop: boolean,
): V1Deployment {
  const body = deploymentManifest(name, {
    env: Object.entries(containerEnv).map(([n, value]) => ({ name: n, value })),
  });
  const pod = body.spec!.template.spec!;
  Object.assign(pod, extra);
  if (preStop) pod.containers[0]!.lifecycle = { preStop: { exec: { command: ['sh', '-c', 'sleep 5'] } } };
  return body;
}

describe(
  'trace-data-loss.yaml end to end on the bed',
  { skip: bed ? false : 'needs temporal, kube, prometheus and otelcol' },
  () => {
    let client: Client;
    let connection: Connection;
    let worker: TestWorker;
    let kc: KubeConfig;
    let ns: string;
    let k8s: KubernetesActivities;
    const world = new FakeWorld();

    before(async () => {
      kc = loadKubeConfig(kube!.kubeconfig);
      ns = await createNamespace(kc, 'trace-rb');
      k8s = createKubernetesActivities(kc);
      const apps = kc.makeApiClient(AppsV1Api);
      await apps.createNamespacedDeployment({
        namespace: ns,
        body: manifest(
          'checkout',
          {
            OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
            OTEL_TRACES_SAMPLER_ARG: '0.01',
            OTEL_BSP_MAX_QUEUE_SIZE: '256',
          },
          { terminationGracePeriodSeconds: 2 },
          false,
        ),
      });
      await apps.createNamespacedDeployment({
        namespace: ns,
        body: manifest(
          'cart',
          {
            OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
            OTEL_TRACES_SAMPLER_ARG: '1',
            OTEL_BSP_MAX_QUEUE_SIZE: '4096',
            OTEL_BSP_SCHEDULE_DELAY: '1000',
            OTEL_BSP_EXPORT_TIMEOUT: '5000',
          },
          { terminationGracePeriodSeconds: 30 },
          true,
        ),
      });
      await settled(kube!, ns, 'checkout');
      await settled(kube!, ns, 'cart');
      const { loaded, issues } = loadRunbookText(await readFile(FILE, 'utf8'), FILE);
      assert.deepEqual(issues, []);
      registerFileRunbooks(loaded);
      ({ client, connection } = await connectTestClient());
      worker = await runTestWorker({
        // Real diagnostics and cluster changes; Slack, paging and the rest stay the typed fakes.
        activities: {
          ...world.activities(),
          ...createKubernetesActivities(kc),
          ...createDiagnosticsActivities({
            prometheusUrl: bed!.prometheusUrl,
            prometheusTimeoutMs: 10_000,
            kubeConfig: kc,
          }),
        },
        taskQueue: uniqueTaskQueue('trace-rb'),
      });
    });

    after(async () => {
      registerFileRunbooks([]);
      await worker?.stop();
      await connection?.close();
      if (ns) await deleteNamespace(kc, ns);
    });

    test('injected faults behind a dropping collector: each finding reported, exporter fix behind a gate, restored', async (t) => {
      // Span load on the dropping pipeline until Prometheus has the losses.
      const diagnostics = createDiagnosticsActivities({ prometheusUrl: bed!.prometheusUrl, kubeConfig: kc });
      const dropping = { selector: 'job="otelcol"', receivers: ['otlp/dropping'], exporters: ['otlp_grpc/blackhole'] };
      const deadline = Date.now() + 90_000;
      for (;;) {
        await Promise.all(Array.from({ length: 10 }, () => postSpans(bed!.dropping)));
        const drops = await diagnostics.checkCollectorDrops({ ...dropping, windowSeconds: 300 });
        if (drops.findings.some((f) => f.setting === 'otelcol_exporter_send_failed_spans' && f.status === 'finding'))
          break;
        assert.ok(Date.now() < deadline, `the collector never dropped: ${drops.verdict}`);
        await new Promise((resolve) => setTimeout(resolve, 300));
      }

      const target = { namespace: ns, deployment: 'checkout' };
      const handle = await startIncident(client, worker.taskQueue, {
        runbook: 'trace-data-loss',
        targets: [target],
        params: { receivers: ['otlp/dropping'], exporters: ['otlp_grpc/blackhole'] },
        policy: fastPolicy({ gateDeadlineMs: 120_000, gateEscalateAfterMs: 120_000, restoreAfterMs: 120_000 }),
      });
      const waiting = await waitForRecord(handle, gatePending('offer-exporter'));
      const text = timelineText(waiting);
      t.diagnostic(
        text
          .split('\n')
          .filter((line) => /FINDING|Collector:|Trace settings:|checks:/.test(line))
          .join('\n'),
      );
      for (const fault of [
        /FINDING sampler OTEL_TRACES_SAMPLER_ARG: 0\.01/,
        /FINDING batchExporter OTEL_BSP_MAX_QUEUE_SIZE: 256/,
        /FINDING shutdown preStop: none/,
        /FINDING shutdown terminationGracePeriodSeconds: 2s/,
        /FINDING collectorDrops otelcol_exporter_send_failed_spans/,
        /FINDING collectorDrops otelcol_receiver_refused_spans/,
      ]) {
        assert.match(text, fault);
      }
      assert.match(text, /Trace-loss checks: 0\/2 passed, 0 warnings, 2 failures/);
      assert.equal((await k8s.readDeploymentSettings(target)).container?.env.OTEL_BSP_MAX_QUEUE_SIZE, '256');

      await handle.executeUpdate(decideUpdate, { args: [{ gate: 'offer-exporter', decision: 'approve', actor: BOB }] });
      const mitigated = await waitForRecord(handle, (r) => r.status === 'mitigated');
      assert.equal(mitigated.mitigations.length, 3);
      const live = (await k8s.readDeploymentSettings(target)).container!.env;
      assert.equal(live.OTEL_BSP_MAX_QUEUE_SIZE, '4096');
      assert.equal(live.OTEL_BSP_SCHEDULE_DELAY, '1000');
      assert.equal(live.OTEL_BSP_EXPORT_TIMEOUT, '5000');
      assert.equal(live.OTEL_TRACES_SAMPLER_ARG, '0.01', 'the sampler is reported, not changed');

      await resolveAndRestore(handle);
      const record = await handle.result();
      assert.equal(record.status, 'resolved');
      assert.ok(record.mitigations.every((m) => m.restoredAt));
      const restored = (await k8s.readDeploymentSettings(target)).container!.env;
      assert.equal(restored.OTEL_BSP_MAX_QUEUE_SIZE, '256');
      assert.equal(restored.OTEL_BSP_SCHEDULE_DELAY, undefined);
      assert.equal(restored.OTEL_BSP_EXPORT_TIMEOUT, undefined);
    });

    test('a healthy deployment behind the healthy pipeline: nothing found, nothing offered, nothing changed', async () => {
      for (let i = 0; i < 5; i++) assert.equal(await postSpans(bed!.healthy), 200);
      const target = { namespace: ns, deployment: 'cart' };
      const handle = await startIncident(client, worker.taskQueue, {
        runbook: 'trace-data-loss',
        targets: [target],
        params: { receivers: ['otlp/healthy'], processors: ['batch'], exporters: ['file'] },
        policy: fastPolicy({ gateDeadlineMs: 120_000, gateEscalateAfterMs: 120_000, restoreAfterMs: 120_000 }),
      });
      const done = await waitForRecord(handle, (r) => /No trace-loss cause found/.test(timelineText(r)));
      const text = timelineText(done);
      assert.doesNotMatch(text, /FINDING/);
      assert.match(text, /Trace-loss checks: 2\/2 passed, 0 warnings, 0 failures/);
      assert.ok(!done.gates.some((g) => g.name === 'offer-exporter'), 'no gate offered');
      assert.equal(done.mitigations.length, 0);
      assert.equal((await k8s.readDeploymentSettings(target)).container?.env.OTEL_BSP_MAX_QUEUE_SIZE, '4096');
      assert.equal(
        (await kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ name: 'cart', namespace: ns })).metadata
          ?.generation,
        1,
        'the pod template never changed',
      );
      await handle.signal(resolveSignal, { actor: BOB });
      assert.equal((await handle.result()).status, 'resolved');
    });
  },
);

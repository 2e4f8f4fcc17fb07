/**
 * Seed 004 chapter 1's five trace-loss checks (activities/diagnostics/trace-loss.ts). On the bed:
 * a Deployment with injected faults (sampler ratio 0.01, propagators without tracecontext, a
 * queue of 256, no preStop, a 2 s grace period) and span load on the real collector's dropping
 * pipeline, scraped by the bed's Prometheus — every fault is found; a healthy Deployment and the
 * healthy pipeline — nothing is. The exporter mitigation goes through setDeploymentEnv and is
 * restored from the values it replaced. The judges' edge cases run without a bed.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { KubeConfig, V1Container, V1Deployment } from '@kubernetes/client-node';
import { AppsV1Api } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import {
  collectorDropQueries,
  createDiagnosticsActivities,
  judgeCollectorDrops,
  judgeTraceSettings,
  type CollectorDropsReport,
  type DiagnosticsActivities,
  type InstantQueryResult,
  type TraceLossFinding,
} from '../activities/diagnostics';
import { createKubernetesActivities, type KubernetesActivities } from '../activities/kubernetes';
import { ErrorType } from '../common/errors';
import { postOtlpTraces, readExportedSpans } from './bed/otelcol';
import {
  createNamespace,
  deleteNamespace,
  deploymentManifest,
  kubeTestEnv,
  loadKubeConfig,
  settled,
} from './kube/fixtures';

const env = process.env;
const kube = kubeTestEnv();
const bed =
  kube && env.FIREBREAK_TEST_PROMETHEUS_URL && env.FIREBREAK_TEST_OTELCOL_DROPPING_OTLP_HTTP
    ? {
        prometheusUrl: env.FIREBREAK_TEST_PROMETHEUS_URL,
        healthy: env.FIREBREAK_TEST_OTELCOL_OTLP_HTTP!,
        dropping: env.FIREBREAK_TEST_OTELCOL_DROPPING_OTLP_HTTP,
        tracesFile: env.FIREBREAK_TEST_OTELCOL_TRACES_FILE!,
      }
    : undefined;

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

const byName = (findings: TraceLossFinding[]) => Object.fromEntries(findings.map((f) => [f.setting, f]));
const statuses = (findings: TraceLossFinding[]) => Object.fromEntries(findings.map((f) => [f.setting, f.status]));

function deployment(
  containerFields: Partial<V1Container>,
  env: Record<string, string>,
  podFields: { terminationGracePeriodSeconds?: number } = {},
): V1Deployment {
  const manifest = deploymentManifest('svc', { env: Object.entries(env).map(([name, value]) => ({ name, value })) });
  Object.assign(manifest.spec!.template.spec!.containers[0]!, containerFields);
  Object.assign(manifest.spec!.template.spec!, podFields);
  return manifest;
}

const target = { namespace: 'shop', deployment: 'svc' };

/** Settings that pass every check of seed 004 chapter 1. */
const HEALTHY_ENV = {
  OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
  OTEL_TRACES_SAMPLER_ARG: '0.5',
  OTEL_PROPAGATORS: 'tracecontext,baggage',
  OTEL_BSP_MAX_QUEUE_SIZE: '4096',
  OTEL_BSP_SCHEDULE_DELAY: '1000',
  OTEL_BSP_EXPORT_TIMEOUT: '5000',
};
const HEALTHY_SHUTDOWN = { lifecycle: { preStop: { exec: { command: ['sh', '-c', 'sleep 5'] } } } };

/** The faults the issue names: low sampler ratio, small queue, no preStop — plus b3-only propagation and a short grace. */
const FAULTY_ENV = {
  OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
  OTEL_TRACES_SAMPLER_ARG: '0.01',
  OTEL_PROPAGATORS: 'b3',
  OTEL_BSP_MAX_QUEUE_SIZE: '256',
};

describe('trace-loss judges (no bed)', () => {
  test('a healthy pod template: every setting ok, nothing to mitigate', () => {
    const report = judgeTraceSettings(deployment(HEALTHY_SHUTDOWN, HEALTHY_ENV), target);
    assert.equal(report.found, 0, report.verdict);
    assert.deepEqual(report.mitigationEnv, {});
    assert.deepEqual(
      report.findings.map((f) => [f.check, f.setting, f.status]),
      [
        ['sampler', 'OTEL_TRACES_SAMPLER_ARG', 'ok'],
        ['propagation', 'OTEL_PROPAGATORS', 'ok'],
        ['batchExporter', 'OTEL_BSP_MAX_QUEUE_SIZE', 'ok'],
        ['batchExporter', 'OTEL_BSP_SCHEDULE_DELAY', 'ok'],
        ['batchExporter', 'OTEL_BSP_EXPORT_TIMEOUT', 'ok'],
        ['shutdown', 'preStop', 'ok'],
        ['shutdown', 'terminationGracePeriodSeconds', 'ok'],
      ],
    );
    const settings = byName(report.findings);
    assert.equal(settings.preStop!.value, 5, 'the exec hook sleeps 5 s');
    assert.equal(settings.terminationGracePeriodSeconds!.recommended, '≥ 10s', 'preStop 5 s + export timeout 5 s');
  });

  test('an unset SDK environment is judged at the SDK defaults: the exporter defaults fall short of seed 004', () => {
    const report = judgeTraceSettings(deployment({}, {}), target);
    const settings = byName(report.findings);
    assert.equal(settings.OTEL_TRACES_SAMPLER!.status, 'ok', 'parentbased_always_on samples everything');
    assert.equal(settings.OTEL_PROPAGATORS!.status, 'ok', 'tracecontext,baggage by default');
    assert.equal(settings.OTEL_BSP_MAX_QUEUE_SIZE!.observed, 'unset (SDK default 2048)');
    assert.deepEqual(report.mitigationEnv, {
      OTEL_BSP_MAX_QUEUE_SIZE: '4096',
      OTEL_BSP_SCHEDULE_DELAY: '1000',
      OTEL_BSP_EXPORT_TIMEOUT: '5000',
    });
    assert.equal(settings.preStop!.status, 'finding');
    // Default grace 30 s covers the default export timeout of 30 s.
    assert.equal(settings.terminationGracePeriodSeconds!.status, 'ok');
  });

  test('no sampling, no propagation, no exporter, references and nonsense are each called out', () => {
    const report = judgeTraceSettings(
      deployment(
        { lifecycle: { preStop: { sleep: { seconds: 20 } } } as V1Container['lifecycle'] },
        {
          OTEL_SDK_DISABLED: 'true',
          OTEL_TRACES_SAMPLER: 'always_off',
          OTEL_PROPAGATORS: 'none',
          OTEL_TRACES_EXPORTER: 'none',
          OTEL_BSP_SCHEDULE_DELAY: 'soon',
          OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '8192',
          OTEL_BSP_MAX_QUEUE_SIZE: '4096',
          OTEL_BSP_EXPORT_TIMEOUT: '5000',
        },
        { terminationGracePeriodSeconds: 20 },
      ),
      target,
    );
    const s = statuses(report.findings);
    assert.equal(s.OTEL_SDK_DISABLED, 'finding');
    assert.equal(s.OTEL_TRACES_SAMPLER, 'finding');
    assert.equal(s.OTEL_PROPAGATORS, 'finding');
    assert.equal(byName(report.findings).OTEL_PROPAGATORS!.recommended, 'tracecontext,baggage');
    assert.equal(s.OTEL_TRACES_EXPORTER, 'finding');
    assert.match(byName(report.findings).OTEL_BSP_SCHEDULE_DELAY!.observed, /not a whole number: SDK default 5000/);
    assert.equal(s.OTEL_BSP_SCHEDULE_DELAY, 'finding');
    assert.equal(s.OTEL_BSP_MAX_EXPORT_BATCH_SIZE, 'finding', 'a batch above the queue');
    assert.equal(s.preStop, 'ok');
    assert.equal(s.terminationGracePeriodSeconds, 'finding', '20 s < sleep 20 s + export 5 s');

    const referenced = judgeTraceSettings(
      deployment(
        {
          env: [
            { name: 'OTEL_TRACES_SAMPLER', value: 'traceidratio' },
            { name: 'OTEL_TRACES_SAMPLER_ARG', valueFrom: { configMapKeyRef: { name: 'otel', key: 'ratio' } } },
          ],
          envFrom: [{ configMapRef: { name: 'otel-env' } }],
        },
        {},
      ),
      target,
    );
    const r = byName(referenced.findings);
    assert.equal(r.OTEL_TRACES_SAMPLER_ARG!.status, 'unknown');
    assert.equal(r.OTEL_TRACES_SAMPLER_ARG!.observed, 'from ConfigMap otel');
    assert.equal(r.OTEL_BSP_MAX_QUEUE_SIZE!.status, 'unknown', 'may come from envFrom');
    assert.deepEqual(referenced.mitigationEnv, {}, 'nothing is offered for values it cannot read');
  });

  test('sizes stay bounded whatever the pod template holds', () => {
    const report = judgeTraceSettings(deployment({}, { OTEL_PROPAGATORS: `b3,${'x'.repeat(10_000)}` }), target);
    for (const f of report.findings) {
      assert.ok(f.observed.length <= 120 && f.recommended.length <= 120 && f.message.length <= 400, f.setting);
    }
    assert.ok(JSON.stringify(report).length < 8_000);
  });

  test('collector: no series at all is no data, every finding unknown', () => {
    const empty: InstantQueryResult = { query: '', resultType: 'vector', series: [], empty: true, warnings: [] };
    const report = judgeCollectorDrops(
      {
        accepted: empty,
        counters: {
          otelcol_receiver_refused_spans: empty,
          otelcol_processor_dropped_spans: empty,
          otelcol_exporter_send_failed_spans: empty,
          otelcol_exporter_enqueue_failed_spans: empty,
        },
        queueSize: empty,
        queueCapacity: empty,
      },
      { from: 0, to: 300, queueFullRatio: 0.8 },
    );
    assert.equal(report.noData, true);
    assert.equal(report.found, 0);
    assert.ok(report.findings.every((f) => f.status === 'unknown'));
    assert.match(report.verdict, /^no data/);
  });

  test('collector: losses name their components, largest first, at most ten', () => {
    const vector = (label: string, values: number[]): InstantQueryResult => ({
      query: '',
      resultType: 'vector',
      series: values.map((value, i) => ({ metric: { [label]: `c${i}` }, timestamp: 0, value, text: String(value) })),
      empty: values.length === 0,
      warnings: [],
    });
    const report = judgeCollectorDrops(
      {
        accepted: vector('receiver', [1000]),
        counters: {
          otelcol_receiver_refused_spans: vector('receiver', [0]),
          otelcol_processor_dropped_spans: vector('processor', [3.4]),
          otelcol_exporter_send_failed_spans: vector(
            'exporter',
            Array.from({ length: 30 }, (_, i) => i + 10),
          ),
          otelcol_exporter_enqueue_failed_spans: vector('exporter', [0]),
        },
        queueSize: vector('exporter', [700, 900]),
        queueCapacity: vector('exporter', [1000, 1000]),
      },
      { from: 0, to: 300, queueFullRatio: 0.8 },
    );
    const s = statuses(report.findings);
    assert.equal(s.otelcol_receiver_refused_spans, 'ok');
    assert.equal(s.otelcol_processor_dropped_spans, 'finding');
    assert.equal(s.otelcol_exporter_send_failed_spans, 'finding');
    assert.equal(s['otelcol_exporter_queue_size/otelcol_exporter_queue_capacity'], 'finding');
    assert.equal(
      byName(report.findings)['otelcol_exporter_queue_size/otelcol_exporter_queue_capacity']!.observed,
      '900/1000 (c1)',
    );
    assert.equal(report.found, 3);
    assert.equal(report.lostSpans, 3 + (30 * (10 + 39)) / 2);
    assert.equal(report.components.length, 10);
    assert.deepEqual(report.components[0], {
      kind: 'exporter',
      name: 'c1',
      metric: 'otelcol_exporter_queue_size',
      value: 900,
    });
    assert.deepEqual(report.components[1], {
      kind: 'exporter',
      name: 'c29',
      metric: 'otelcol_exporter_send_failed_spans',
      value: 39,
    });
  });

  test('collector queries scope every counter to the pipeline and take either metric name', () => {
    const q = collectorDropQueries({ selector: 'job="otelcol"', receivers: ['otlp/a'], exporters: ['otlp/b'] }, 120);
    assert.match(q.counters.otelcol_receiver_refused_spans, /__name__=~"otelcol_receiver_refused_spans\(_total\)\?"/);
    assert.match(q.counters.otelcol_receiver_refused_spans, /job="otelcol",receiver=~"otlp\/a"/);
    assert.match(q.counters.otelcol_exporter_send_failed_spans, /exporter=~"otlp\/b"/);
    assert.doesNotMatch(q.counters.otelcol_processor_dropped_spans, /processor=~/, 'no processors named: all of them');
    assert.match(q.queueCapacity, /otelcol_exporter_queue_capacity\{job="otelcol",exporter=~"otlp\/b"\}/);
  });
});

/** One OTLP/JSON export request of one new trace (a root span and a child). */
function traceRequest(service: string) {
  const now = BigInt(Date.now()) * 1_000_000n;
  const traceId = hex(16);
  const root = hex(8);
  const span = (spanId: string, name: string, parentSpanId?: string) => ({
    traceId,
    spanId,
    ...(parentSpanId ? { parentSpanId } : {}),
    name,
    kind: 2,
    startTimeUnixNano: String(now),
    endTimeUnixNano: String(now + 3_000_000n),
  });
  return {
    traceId,
    body: {
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
          scopeSpans: [
            { scope: { name: 'trace-loss-test' }, spans: [span(root, 'GET /cart'), span(hex(8), 'db', root)] },
          ],
        },
      ],
    },
  };
}

async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

const DROPPING = { selector: 'job="otelcol"', receivers: ['otlp/dropping'], exporters: ['otlp_grpc/blackhole'] };
const HEALTHY = {
  selector: 'job="otelcol"',
  receivers: ['otlp/healthy'],
  processors: ['batch'],
  exporters: ['file'],
};

describe(
  'trace-loss checks on the bed (kube, Prometheus, otelcol)',
  { skip: bed ? false : 'needs the kube, prometheus and otelcol bed components' },
  () => {
    let kc: KubeConfig;
    let ns: string;
    let diagnostics: DiagnosticsActivities;
    let k8s: KubernetesActivities;

    before(async () => {
      kc = loadKubeConfig(kube!.kubeconfig);
      ns = await createNamespace(kc, 'trace-loss');
      diagnostics = createDiagnosticsActivities({
        prometheusUrl: bed!.prometheusUrl,
        prometheusTimeoutMs: 10_000,
        kubeConfig: kc,
      });
      k8s = createKubernetesActivities(kc);
      const apps = kc.makeApiClient(AppsV1Api);
      const create = async (name: string, body: V1Deployment) => {
        body.metadata!.name = name;
        body.metadata!.labels = { app: name };
        body.spec!.selector = { matchLabels: { app: name } };
        body.spec!.template.metadata = { labels: { app: name } };
        await apps.createNamespacedDeployment({ namespace: ns, body });
      };
      await create('checkout-faulty', deployment({}, FAULTY_ENV, { terminationGracePeriodSeconds: 2 }));
      await create(
        'checkout-healthy',
        deployment(HEALTHY_SHUTDOWN, HEALTHY_ENV, { terminationGracePeriodSeconds: 30 }),
      );
      await settled(kube!, ns, 'checkout-faulty');
      await settled(kube!, ns, 'checkout-healthy');
    });

    after(async () => {
      if (ns) await deleteNamespace(kc, ns);
    });

    test('injected faults and a dropping collector: every fault is found', async (t) => {
      const settings = await diagnostics.checkTraceExportSettings({ namespace: ns, deployment: 'checkout-faulty' });
      t.diagnostic(settings.verdict);
      const s = byName(settings.findings);
      assert.equal(s.OTEL_TRACES_SAMPLER_ARG!.status, 'finding', 'low sampler ratio');
      assert.equal(s.OTEL_TRACES_SAMPLER_ARG!.value, 0.01);
      assert.equal(s.OTEL_PROPAGATORS!.status, 'finding', 'b3 only');
      assert.equal(s.OTEL_PROPAGATORS!.recommended, 'tracecontext,baggage,b3');
      assert.equal(s.OTEL_BSP_MAX_QUEUE_SIZE!.status, 'finding', 'small queue');
      assert.equal(s.OTEL_BSP_MAX_QUEUE_SIZE!.value, 256);
      assert.equal(s.OTEL_BSP_SCHEDULE_DELAY!.status, 'finding', 'SDK default 5 s');
      assert.equal(s.OTEL_BSP_EXPORT_TIMEOUT!.status, 'finding', 'SDK default 30 s');
      assert.equal(s.preStop!.status, 'finding', 'no preStop');
      assert.equal(s.terminationGracePeriodSeconds!.status, 'finding', '2 s');
      assert.equal(settings.found, 7);
      assert.deepEqual(settings.mitigationEnv, {
        OTEL_BSP_MAX_QUEUE_SIZE: '4096',
        OTEL_BSP_SCHEDULE_DELAY: '1000',
        OTEL_BSP_EXPORT_TIMEOUT: '5000',
      });

      // Span load on the dropping pipeline until Prometheus has scraped every kind of loss it causes:
      // one consumer stuck on a silent backend, a queue of two, no retries.
      let loading = true;
      let sent = 0;
      const codes = new Set<number>();
      const load = (async () => {
        while (loading) {
          const batch = await Promise.all(
            Array.from({ length: 10 }, () => postOtlpTraces(bed!.dropping, traceRequest('checkout-faulty').body)),
          );
          sent += batch.length;
          for (const code of batch) codes.add(code);
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      })();
      let drops: CollectorDropsReport;
      try {
        drops = await eventually(
          'the collector drop counters in Prometheus',
          async () => {
            const report = await diagnostics.checkCollectorDrops({ ...DROPPING, windowSeconds: 120 });
            const st = statuses(report.findings);
            return st.otelcol_receiver_refused_spans === 'finding' &&
              st.otelcol_exporter_send_failed_spans === 'finding' &&
              st.otelcol_exporter_enqueue_failed_spans === 'finding' &&
              st['otelcol_exporter_queue_size/otelcol_exporter_queue_capacity'] === 'finding'
              ? report
              : undefined;
          },
          90_000,
        );
      } finally {
        loading = false;
        await load;
      }
      t.diagnostic(`${sent} requests sent, HTTP ${[...codes].join(', ')}; ${drops.verdict}`);
      assert.ok(
        [...codes].some((code) => code >= 500),
        'the receiver refused requests back to the sender',
      );
      assert.equal(drops.noData, false);
      assert.equal(drops.found, 4);
      assert.equal(
        byName(drops.findings).otelcol_processor_dropped_spans!.status,
        'ok',
        'the dropping pipeline has no processor',
      );
      assert.ok(
        drops.lostSpans > 0 && drops.acceptedSpans > 0,
        `${drops.lostSpans} lost, ${drops.acceptedSpans} accepted`,
      );
      assert.ok(drops.components.some((c) => c.kind === 'exporter' && c.name === 'otlp_grpc/blackhole'));
      assert.ok(drops.components.some((c) => c.kind === 'receiver' && c.name === 'otlp/dropping'));
      assert.ok(drops.components.every((c) => c.name !== 'file' && c.name !== 'otlp/healthy'));
      const queue = byName(drops.findings)['otelcol_exporter_queue_size/otelcol_exporter_queue_capacity']!;
      assert.equal(queue.observed, '2/2 (otlp_grpc/blackhole)');
      assert.ok(JSON.stringify(drops).length < 8_000, 'bounded');
    });

    test('the exporter mitigation is a temporary setDeploymentEnv, restored from the values it replaced', async () => {
      const faulty = { namespace: ns, deployment: 'checkout-faulty' };
      const before = await diagnostics.checkTraceExportSettings(faulty);
      const applied = await k8s.setDeploymentEnv({
        ...faulty,
        incidentId: 'INC-trace-loss-1',
        env: before.mitigationEnv,
      });
      assert.deepEqual(applied.previous, {
        OTEL_BSP_MAX_QUEUE_SIZE: '256',
        OTEL_BSP_SCHEDULE_DELAY: null,
        OTEL_BSP_EXPORT_TIMEOUT: null,
      });
      const mitigated = await diagnostics.checkTraceExportSettings(faulty);
      assert.deepEqual(mitigated.mitigationEnv, {});
      assert.ok(mitigated.findings.filter((f) => f.check === 'batchExporter').every((f) => f.status === 'ok'));
      assert.equal(mitigated.found, before.found - 3, 'the other findings are not the mitigation’s to fix');

      await k8s.setDeploymentEnv({ ...faulty, incidentId: 'INC-trace-loss-1:restore', env: applied.previous });
      const restored = await diagnostics.checkTraceExportSettings(faulty);
      assert.deepEqual(restored.mitigationEnv, before.mitigationEnv);
      assert.deepEqual(restored.findings, before.findings);
    });

    test('a healthy deployment and the healthy pipeline: nothing found', async (t) => {
      const settings = await diagnostics.checkTraceExportSettings({ namespace: ns, deployment: 'checkout-healthy' });
      assert.equal(settings.found, 0, settings.verdict);
      assert.ok(settings.findings.every((f) => f.status === 'ok'));
      assert.deepEqual(settings.mitigationEnv, {});

      const traceIds: string[] = [];
      for (let i = 0; i < 5; i++) {
        const request = traceRequest('checkout-healthy');
        traceIds.push(request.traceId);
        assert.equal(await postOtlpTraces(bed!.healthy, request.body), 200);
      }
      await eventually('the healthy pipeline to export the spans', async () => {
        const exported = new Set((await readExportedSpans(bed!.tracesFile)).map((s) => s.traceId));
        return traceIds.every((id) => exported.has(id)) ? true : undefined;
      });
      // Prometheus has seen the accepted spans: the verdict rests on data, not on silence.
      const drops = await eventually('Prometheus to scrape the healthy pipeline', async () => {
        const report = await diagnostics.checkCollectorDrops({ ...HEALTHY, windowSeconds: 120 });
        return report.acceptedSpans >= 10 ? report : undefined;
      });
      t.diagnostic(drops.verdict);
      assert.equal(drops.noData, false);
      assert.equal(drops.found, 0, drops.verdict);
      assert.equal(drops.lostSpans, 0);
      assert.deepEqual(drops.components, []);
      assert.ok(
        drops.findings.every((f) => f.status === 'ok'),
        JSON.stringify(drops.findings),
      );
    });

    test('a missing deployment and missing configuration fail permanently, by type', async () => {
      await assert.rejects(
        diagnostics.checkTraceExportSettings({ namespace: ns, deployment: 'no-such-service' }),
        (err: unknown) =>
          err instanceof ApplicationFailure && err.type === ErrorType.TARGET_NOT_FOUND && err.nonRetryable === true,
      );
      const bare = createDiagnosticsActivities({});
      await assert.rejects(
        bare.checkTraceExportSettings({ namespace: ns, deployment: 'checkout-healthy' }),
        (err: unknown) => err instanceof ApplicationFailure && err.type === ErrorType.NOT_CONFIGURED,
      );
      await assert.rejects(
        bare.checkCollectorDrops({}),
        (err: unknown) => err instanceof ApplicationFailure && err.type === ErrorType.NOT_CONFIGURED,
      );
      await assert.rejects(
        diagnostics.checkCollectorDrops({ windowSeconds: 0 }),
        (err: unknown) => err instanceof ApplicationFailure && err.type === ErrorType.INVALID_INPUT,
      );
    });
  },
);

/**
 * The engine's own traces, as the bed's real OpenTelemetry Collector receives them: `firebreak
 * start` with OTEL_EXPORTER_OTLP_ENDPOINT at the collector's healthy pipeline, one incident started
 * by an Alertmanager webhook, and the collector's file holding ONE trace from the ingress request
 * through the workflow start, the workflow run, each activity (scheduled and run) down to the
 * Kubernetes API calls the restart made — each span the child of the one before. The same engine's
 * /metrics counts the incident open, then closed, and the Temporal runtime serves the worker's own
 * metrics on FIREBREAK_WORKER_METRICS_ADDRESS.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { readExportedSpans, type ExportedSpan } from '../bed/otelcol';
import { freePort } from '../bed/ports';
import { eventually, SKIP_WITHOUT_E2E_BED, SERVICE_DOWN_ROUTE, worldForSuite } from './harness';

const collector = process.env.FIREBREAK_TEST_OTELCOL_OTLP_HTTP
  ? { endpoint: process.env.FIREBREAK_TEST_OTELCOL_OTLP_HTTP, file: process.env.FIREBREAK_TEST_OTELCOL_TRACES_FILE! }
  : undefined;
const SKIP = SKIP_WITHOUT_E2E_BED || (collector ? false : 'needs the otelcol bed component');

describe('the engine traces an alert-started incident end to end', { skip: SKIP }, () => {
  const serviceName = `firebreak-e2e-${process.pid}`;
  let workerMetricsUrl: string;

  const world = worldForSuite(async () => {
    const workerMetricsAddress = `127.0.0.1:${await freePort()}`;
    workerMetricsUrl = `http://${workerMetricsAddress}/metrics`;
    return {
      name: 'otel',
      routes: [SERVICE_DOWN_ROUTE],
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: collector!.endpoint,
        OTEL_SERVICE_NAME: serviceName,
        FIREBREAK_WORKER_METRICS_ADDRESS: workerMetricsAddress,
      },
    };
  });

  test('webhook → workflow → activities → Kubernetes calls under one trace id, as the collector received it', async (t) => {
    const ns = world.namespace;
    await world.cluster.deploy(ns, 'api', { replicas: 1 });
    world.service.healthy = true;
    const groupKey = `{}/{alertname="ServiceDown"}:{deployment="api", namespace="${ns}"}`;
    const alert = {
      labels: { alertname: 'ServiceDown', severity: 'critical', namespace: ns, deployment: 'api' },
      annotations: { health_url: world.service.healthUrl },
    };
    const accepted = await world.postAlerts(groupKey, [alert]);
    assert.equal(accepted.outcome, 'accepted', JSON.stringify(accepted));
    const workflowId = accepted.workflowId;
    await world.waitFor(workflowId, 'the restart done and recovered', (r) => r.status === 'mitigated', 90_000);
    // The engine's /metrics, as Prometheus scrapes it: the open incident, counted in visibility.
    const open = /^firebreak_incidents_open\{runbook="p0-response",severity="P0"\} (\d+)$/m;
    assert.equal(open.exec(await world.metrics())?.[1], '1', 'one open p0-response P0 incident');
    await world.postAlerts(groupKey, [{ ...alert, status: 'resolved' }]);
    assert.equal((await world.result(workflowId)).status, 'resolved');
    const closed =
      /^firebreak_incident_close_seconds_count\{runbook="p0-response",severity="P0",status="resolved"\} (\d+)$/m;
    await eventually('the close counted on /metrics', async () => closed.exec(await world.metrics())?.[1] === '1');
    // Counted again once the cached figure is older than its 15 s.
    await eventually(
      'no open incident on /metrics',
      async () => open.exec(await world.metrics())?.[1] === '0',
      40_000,
      1_000,
    );
    // The Temporal runtime's own exporter: the worker's slots and task latencies, in seconds.
    const workerMetrics = await (await fetch(workerMetricsUrl, { signal: AbortSignal.timeout(5_000) })).text();
    assert.match(workerMetrics, /^temporal_worker_task_slots_available\{/m);
    assert.match(workerMetrics, /^temporal_activity_execution_latency_seconds_count\{/m);
    assert.match(workerMetrics, /task_queue="[^"]*e2e-otel-/);

    const ours = async () =>
      (await readExportedSpans(collector!.file)).filter((s) => s.resource['service.name'] === serviceName);
    // The workflow's own span ends with the run; the batch processor sends within a second or two.
    const spans = await eventually(
      'the incident trace in the collector file (through the Kubernetes patch of the restart)',
      async () => {
        const found = await ours();
        return found.some((s) => s.name.startsWith('RunWorkflow:')) &&
          found.some((s) => s.name === 'kubernetes patch deployments.apps')
          ? found
          : undefined;
      },
      60_000,
      500,
    );
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const parentOf = (span: ExportedSpan) => (span.parentSpanId ? byId.get(span.parentSpanId) : undefined);
    const describeChain = (span: ExportedSpan | undefined): string[] =>
      span ? [...describeChain(parentOf(span)), span.name] : [];

    const patch = spans.find((s) => s.name === 'kubernetes patch deployments.apps')!;
    const chain = describeChain(patch);
    const shown = chain.join(' → ');
    // Root to leaf: the request, the client's start, the run, the activity scheduled and run, the call.
    assert.equal(chain[0], 'POST /webhooks/alertmanager', shown);
    assert.match(chain[1] ?? '', /^(SignalWithStartWorkflow|StartWorkflow):/, shown);
    assert.match(chain[2] ?? '', /^RunWorkflow:/, shown);
    assert.equal(chain[3], 'StartActivity:rolloutRestart', shown);
    assert.equal(chain[4], 'RunActivity:rolloutRestart', shown);
    assert.equal(chain[5], 'kubernetes patch deployments.apps', shown);
    assert.equal(chain.length, 6, shown);

    const root = byId.get(spans.find((s) => s.name === chain[0] && !s.parentSpanId)!.spanId)!;
    const trace = spans.filter((s) => s.traceId === root.traceId);
    // Every link of the chain is in the one trace, and so is every activity the incident ran.
    for (const span of [patch, ...chain.map((name) => spans.find((s) => s.name === name)!)]) {
      assert.equal(span.traceId, root.traceId, `${span.name} is in the incident's trace`);
    }
    const activities = trace.filter((s) => s.name.startsWith('RunActivity:')).map((s) => s.name);
    assert.ok(activities.length >= 3, `activities traced: ${activities.join(', ')}`);
    for (const run of trace.filter((s) => s.name.startsWith('RunActivity:'))) {
      assert.match(parentOf(run)?.name ?? '', /^StartActivity:/, `${run.name}'s parent`);
      assert.match(parentOf(parentOf(run)!)?.name ?? '', /^RunWorkflow:/, `${run.name}'s grandparent`);
    }
    const kubeCalls = trace.filter((s) => s.name.startsWith('kubernetes '));
    assert.ok(kubeCalls.length >= 2, `Kubernetes calls traced: ${kubeCalls.map((s) => s.name).join(', ')}`);
    for (const call of kubeCalls) {
      assert.match(parentOf(call)?.name ?? '', /^RunActivity:/, `${call.name}'s parent`);
      assert.equal(call.attributes['k8s.namespace.name'], ns);
    }
    t.diagnostic(`chain: ${shown}`);
    t.diagnostic(
      `trace ${root.traceId}: ${trace.length} spans, ${activities.length} activities run, ${kubeCalls.length} Kubernetes calls`,
    );
    assert.equal(root.attributes['http.route'], '/webhooks/alertmanager');
    assert.equal(root.attributes['http.response.status_code'], 200);
    // The resolving notification is a request of its own: its own trace, not this one.
    const requests = spans.filter((s) => s.name === 'POST /webhooks/alertmanager');
    assert.equal(requests.length, 2);
    assert.equal(new Set(requests.map((s) => s.traceId)).size, 2);
  });
});

/**
 * The bed's OpenTelemetry Collector (test/bed/otelcol.ts): spans sent over OTLP/HTTP JSON come out
 * of the healthy pipeline's file exporter intact; spans sent to the dropping pipeline are refused
 * or fail to send, and the collector's own counters say so — read from its metrics endpoint and,
 * when the bed runs Prometheus, from Prometheus, which scrapes it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { readExportedSpans } from './bed/otelcol';

const env = process.env;
const collector = env.FIREBREAK_TEST_OTELCOL_OTLP_HTTP
  ? {
      healthy: env.FIREBREAK_TEST_OTELCOL_OTLP_HTTP,
      dropping: env.FIREBREAK_TEST_OTELCOL_DROPPING_OTLP_HTTP!,
      tracesFile: env.FIREBREAK_TEST_OTELCOL_TRACES_FILE!,
      metricsUrl: env.FIREBREAK_TEST_OTELCOL_METRICS_URL!,
    }
  : undefined;
const prometheusUrl = env.FIREBREAK_TEST_PROMETHEUS_URL;

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

/** One OTLP/JSON export request: a root span and a child, of one new trace. */
function traceRequest(traceId: string, name: string) {
  const now = BigInt(Date.now()) * 1_000_000n;
  const root = hex(8);
  const span = (spanId: string, spanName: string, parentSpanId?: string) => ({
    traceId,
    spanId,
    ...(parentSpanId ? { parentSpanId } : {}),
    name: spanName,
    kind: 1,
    startTimeUnixNano: String(now),
    endTimeUnixNano: String(now + 5_000_000n),
    attributes: [{ key: 'firebreak.incident', value: { stringValue: name } }],
  });
  return {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'firebreak-bed-test' } }] },
        scopeSpans: [
          { scope: { name: 'bed-otelcol-test' }, spans: [span(root, name), span(hex(8), `${name}/child`, root)] },
        ],
      },
    ],
  };
}

function post(base: string, body: unknown): Promise<Response> {
  return fetch(`${base}/v1/traces`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(5_000),
  });
}

/** Sum of a counter's samples in Prometheus text exposition whose labels include `match`. */
function sumSamples(exposition: string, metric: string, match: string): number {
  let sum = 0;
  for (const line of exposition.split('\n')) {
    if (!line.startsWith(`${metric}{`) || !line.includes(match)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

async function collectorMetric(metric: string, match: string): Promise<number> {
  const res = await fetch(collector!.metricsUrl, { signal: AbortSignal.timeout(5_000) });
  return sumSamples(await res.text(), metric, match);
}

async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describe('the bed OpenTelemetry Collector', { skip: collector ? false : 'needs the otelcol bed component' }, () => {
  test('spans sent over OTLP/HTTP JSON arrive whole in the healthy pipeline', async () => {
    const traceId = hex(16);
    const res = await post(collector!.healthy, traceRequest(traceId, 'INC-otel-1'));
    assert.equal(res.status, 200, await res.text());
    const spans = await eventually('the exported spans', async () => {
      const found = (await readExportedSpans(collector!.tracesFile)).filter((s) => s.traceId === traceId);
      return found.length === 2 ? found : undefined;
    });
    const root = spans.find((s) => !s.parentSpanId)!;
    const child = spans.find((s) => s.parentSpanId)!;
    assert.equal(root.name, 'INC-otel-1');
    assert.equal(child.parentSpanId, root.spanId);
    assert.equal(root.attributes['firebreak.incident'], 'INC-otel-1');
    assert.equal(root.resource['service.name'], 'firebreak-bed-test');
    assert.equal(root.scope, 'bed-otelcol-test');
  });

  test('the dropping pipeline loses spans and its counters rise, in the collector and in Prometheus', async (t) => {
    const exporter = 'exporter="otlp_grpc/blackhole"';
    const receiver = 'receiver="otlp/dropping"';
    const before = {
      failed: await collectorMetric('otelcol_exporter_send_failed_spans', exporter),
      enqueueFailed: await collectorMetric('otelcol_exporter_enqueue_failed_spans', exporter),
      refused: await collectorMetric('otelcol_receiver_refused_spans', receiver),
    };
    // A bounded burst, all at once: one consumer stuck on a backend that never answers and a
    // queue of two requests cannot take twenty.
    const statuses = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const res = await post(collector!.dropping, traceRequest(hex(16), `INC-drop-${i}`));
        await res.arrayBuffer();
        return res.status;
      }),
    );
    t.diagnostic(`dropping pipeline answered HTTP ${[...new Set(statuses)].join(', ')}`);
    assert.ok(
      statuses.some((status) => status >= 500),
      'the receiver refused requests back to the sender (queue full)',
    );
    const refused = await collectorMetric('otelcol_receiver_refused_spans', receiver);
    const enqueueFailed = await collectorMetric('otelcol_exporter_enqueue_failed_spans', exporter);
    assert.ok(refused > before.refused, `refused spans rose (${before.refused} → ${refused})`);
    assert.ok(
      enqueueFailed > before.enqueueFailed,
      `enqueue failures rose (${before.enqueueFailed} → ${enqueueFailed})`,
    );
    assert.equal(await collectorMetric('otelcol_exporter_queue_capacity', exporter), 2);
    // What was queued times out against the silent backend: send failures follow within seconds.
    const failed = await eventually('send failures', async () => {
      const now = await collectorMetric('otelcol_exporter_send_failed_spans', exporter);
      return now > before.failed ? now : undefined;
    });
    assert.equal(await collectorMetric('otelcol_receiver_refused_spans', 'receiver="otlp/healthy"'), 0);

    if (!prometheusUrl) return t.skip('no Prometheus in this bed: checked on the collector only');
    const query = async (promql: string) => {
      const res = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(promql)}`);
      const body = (await res.json()) as { data: { result: { value: [number, string] }[] } };
      return body.data.result.reduce((sum, r) => sum + Number(r.value[1]), 0);
    };
    // Prometheus scrapes every second; the collector's own figure is the floor it must reach.
    await eventually('Prometheus to scrape the drop counters', async () => {
      const scraped = await query(`sum(otelcol_exporter_send_failed_spans{job="otelcol",${exporter}})`);
      return scraped >= failed ? scraped : undefined;
    });
    assert.ok((await query(`sum(otelcol_receiver_refused_spans{job="otelcol",${receiver}})`)) >= refused);
  });
});

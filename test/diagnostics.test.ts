/**
 * Diagnostics activities (and the Prometheus client under them) against a real Prometheus (the bed's, or one this file starts when run
 * alone) and real loopback HTTP servers. Series with exact figures go in through remote write; the
 * scrape path is exercised through the bed's metrics target.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import {
  createDiagnosticsActivities,
  createPrometheusClient,
  detectJump,
  leastSquares,
  type DiagnosticsActivities,
} from '../activities/diagnostics';
import { ErrorType } from '../common/errors';
import { remoteWrite, sampleSeries, startPrometheus } from './bed/prometheus';
import { setTargetGauge } from './bed/metrics-target';

let prometheusUrl = '';
let targetUrl = '';
let ownBed: { stop(): Promise<void>; workDir: string } | undefined;
let diagnostics: DiagnosticsActivities;
/** Keeps this run's series apart from other tests sharing the bed's Prometheus. */
const run = randomUUID().slice(0, 8);

before(async () => {
  prometheusUrl = process.env.FIREBREAK_TEST_PROMETHEUS_URL ?? '';
  targetUrl = process.env.FIREBREAK_TEST_METRICS_TARGET_URL ?? '';
  if (!prometheusUrl || !targetUrl) {
    const workDir = await mkdtemp(join(tmpdir(), 'firebreak-diagnostics-'));
    const bed = await startPrometheus({ workDir, log: () => undefined });
    ownBed = { stop: bed.stop, workDir };
    prometheusUrl = bed.env.FIREBREAK_TEST_PROMETHEUS_URL!;
    targetUrl = bed.env.FIREBREAK_TEST_METRICS_TARGET_URL!;
  }
  diagnostics = createDiagnosticsActivities({ prometheusUrl, prometheusTimeoutMs: 5000 });
});

after(async () => {
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  if (ownBed) {
    await ownBed.stop();
    await rm(ownBed.workDir, { recursive: true, force: true });
  }
});

const servers: Server[] = [];

/** A loopback HTTP server whose handler the test writes; closed after the file. */
async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function rejectsWith(promise: Promise<unknown>, type: string): Promise<ApplicationFailure> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(err)}`);
    assert.equal(err.type, type);
    assert.equal(err.nonRetryable, true);
    return err;
  }
  assert.fail(`expected a ${type} failure`);
}

async function eventually<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  assert.fail(`${what} did not happen within ${timeoutMs} ms`);
}

const MB = 1_000_000;

describe('pure helpers', () => {
  test('least squares recovers slope and intercept, r² = 1 on a line', () => {
    const fit = leastSquares([
      [1_700_000_000, 10],
      [1_700_000_010, 30],
      [1_700_000_020, 50],
    ]);
    assert.ok(fit);
    assert.equal(fit.slope, 2);
    assert.equal(fit.rSquared, 1);
    assert.equal(leastSquares([[5, 1]]), undefined);
    assert.equal(
      leastSquares([
        [5, 1],
        [5, 2],
      ]),
      undefined,
    );
  });

  test('jump detection dates the first point that leaves the baseline', () => {
    const points = Array.from({ length: 20 }, (_, i): [number, number] => [i * 10, i < 12 ? 1 + (i % 2) * 0.1 : 5]);
    assert.deepEqual(detectJump(points, 2, 0.05), { baseline: 1, peak: 5, jumpedAt: 120 });
    const flat = points.map(([t]): [number, number] => [t, 1]);
    assert.equal(detectJump(flat, 2, 0.05)?.jumpedAt, undefined);
  });
});

describe('checkHealth', () => {
  test('healthy endpoint: status, latency and body excerpt', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'ok', detail: 'x'.repeat(1000) }));
    });
    const result = await diagnostics.checkHealth({ url: `${url}/health` });
    assert.equal(result.healthy, true);
    assert.equal(result.status, 200);
    assert.match(result.verdict, /^healthy: HTTP 200 in \d+ ms$/);
    assert.ok(result.bodyExcerpt.startsWith('{"status":"ok"'));
    assert.ok(result.bodyExcerpt.length <= 301, 'excerpt is bounded');
    assert.ok(result.latencyMs >= 0 && result.latencyMs < 5000);
  });

  test('5xx is unhealthy with the body in the verdict', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(503);
      res.end('collector queue full');
    });
    const result = await diagnostics.checkHealth({ url });
    assert.equal(result.healthy, false);
    assert.equal(result.status, 503);
    assert.equal(result.bodyExcerpt, 'collector queue full');
    assert.match(result.verdict, /^unhealthy: HTTP 503 \(expected 2xx\).*collector queue full/);
  });

  test('expectStatus decides what healthy means', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(204);
      res.end();
    });
    assert.equal((await diagnostics.checkHealth({ url, expectStatus: 204 })).healthy, true);
    assert.equal((await diagnostics.checkHealth({ url, expectStatus: 200 })).healthy, false);
  });

  test('target down: unreachable, not a crash', async () => {
    const url = `http://127.0.0.1:${await closedPort()}/health`;
    const result = await diagnostics.checkHealth({ url, timeoutMs: 2000 });
    assert.equal(result.healthy, false);
    assert.equal(result.status, undefined);
    assert.match(result.error ?? '', /ECONNREFUSED/);
    assert.match(result.verdict, /^unreachable: ECONNREFUSED/);
  });

  test('a target that never answers times out at timeoutMs', async () => {
    const url = await serve(() => undefined);
    const result = await diagnostics.checkHealth({ url, timeoutMs: 300 });
    assert.equal(result.healthy, false);
    assert.equal(result.error, 'timed out after 300 ms');
    assert.ok(result.latencyMs >= 280 && result.latencyMs < 2000, `latency ${result.latencyMs}`);
  });

  test('headers then a stalled body is unhealthy too', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('partial');
    });
    const result = await diagnostics.checkHealth({ url, timeoutMs: 300 });
    assert.equal(result.healthy, false);
    assert.equal(result.status, 200);
    assert.match(result.verdict, /HTTP 200 then stalled/);
  });

  test('a malformed URL is permanent INVALID_INPUT', async () => {
    await rejectsWith(diagnostics.checkHealth({ url: 'not a url' }), ErrorType.INVALID_INPUT);
    await rejectsWith(diagnostics.checkHealth({ url: 'ftp://127.0.0.1/health' }), ErrorType.INVALID_INPUT);
  });

  test('cloud metadata services are refused, however the address is written, before any connection', async () => {
    for (const url of [
      'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
      'http://2852039166/latest/meta-data/',
      'http://[::ffff:169.254.169.254]/',
      'http://metadata.google.internal/computeMetadata/v1/',
      'http://[fd00:ec2::254]/',
    ]) {
      const failure = await rejectsWith(diagnostics.checkHealth({ url, timeoutMs: 500 }), ErrorType.INVALID_INPUT);
      assert.match(failure.message, /may not reach/, url);
    }
  });

  test('a redirect is followed only where a health check may go', async () => {
    const url = await serve((req, res) => {
      if (req.url === '/ok') {
        res.writeHead(200);
        res.end('fine');
      } else if (req.url === '/moved') {
        res.writeHead(302, { location: '/ok' });
        res.end();
      } else {
        res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' });
        res.end();
      }
    });
    const followed = await diagnostics.checkHealth({ url: `${url}/moved` });
    assert.equal(followed.healthy, true);
    assert.equal(followed.bodyExcerpt, 'fine');

    const refused = await diagnostics.checkHealth({ url: `${url}/steal`, timeoutMs: 500 });
    assert.equal(refused.healthy, false);
    assert.match(refused.verdict, /redirected to http:\/\/169\.254\.169\.254, which health checks may not reach/);
  });
});

describe('Prometheus queries (the client under the verdicts)', () => {
  const prometheus = () => createPrometheusClient({ prometheusUrl });
  test('a gauge set on the scrape target comes back through PromQL', async () => {
    const labels = { run, service: 'checkout' };
    await setTargetGauge(targetUrl, 'otlp_queue_size', labels, 1234);
    const sample = await eventually('the scrape', 20_000, async () => {
      const result = await prometheus().queryPrometheus({ query: `otlp_queue_size{run="${run}"}` });
      return result.series[0];
    });
    assert.equal(sample.value, 1234);
    assert.equal(sample.metric.job, 'firebreak-test-target');
    assert.equal(sample.metric.service, 'checkout');
    const up = await prometheus().queryPrometheus({ query: 'up{job="firebreak-test-target"}' });
    assert.equal(up.series[0]?.value, 1);
  });

  test('a target that stops answering scrapes shows as up == 0', async () => {
    const res = await fetch(`${targetUrl}/down`, { method: 'POST', body: JSON.stringify({ seconds: 4 }) });
    assert.equal(res.status, 200);
    await eventually('up to drop to 0', 10_000, async () => {
      const up = await prometheus().queryPrometheus({ query: 'up{job="firebreak-test-target"}' });
      return up.series[0]?.value === 0 ? true : undefined;
    });
    await eventually('up to come back', 15_000, async () => {
      const up = await prometheus().queryPrometheus({ query: 'up{job="firebreak-test-target"}' });
      return up.series[0]?.value === 1 ? true : undefined;
    });
  });

  test('instant and range queries return exact remote-written figures', async () => {
    const end = Math.floor(Date.now() / 1000) * 1000;
    await remoteWrite(prometheusUrl, [
      {
        labels: { __name__: 'otlp_request_duration_seconds', quantile: '0.99', service: 'cart', run },
        samples: sampleSeries(end - 60_000, end, 10, (s) => 0.05 + s / 1000),
      },
    ]);
    const instant = await prometheus().queryPrometheus({
      query: `otlp_request_duration_seconds{quantile="0.99",run="${run}"}`,
      time: end / 1000,
    });
    assert.equal(instant.resultType, 'vector');
    assert.equal(instant.series.length, 1);
    assert.ok(Math.abs(instant.series[0]!.value! - 0.11) < 1e-9);
    assert.equal(instant.series[0]!.timestamp, end / 1000);

    const range = await prometheus().queryPrometheusRange({
      query: `otlp_request_duration_seconds{run="${run}"}`,
      start: new Date(end - 60_000).toISOString(),
      end: new Date(end).toISOString(),
      stepSeconds: 20,
    });
    assert.deepEqual(
      range.series[0]!.points.map(([t, v]) => [t - end / 1000, Number(v.toFixed(6))]),
      [
        [-60, 0.05],
        [-40, 0.07],
        [-20, 0.09],
        [0, 0.11],
      ],
    );

    const scalar = await prometheus().queryPrometheus({ query: 'scalar(vector(2) * 21)' });
    assert.equal(scalar.resultType, 'scalar');
    assert.equal(scalar.series[0]!.value, 42);
  });

  test('empty results are empty, not errors', async () => {
    const instant = await prometheus().queryPrometheus({ query: `otlp_errors_total{run="${run}-nothing"}` });
    assert.equal(instant.empty, true);
    assert.deepEqual(instant.series, []);
    const now = Date.now() / 1000;
    const range = await prometheus().queryPrometheusRange({
      query: `otlp_errors_total{run="${run}-nothing"}`,
      start: now - 300,
      end: now,
      stepSeconds: 15,
    });
    assert.equal(range.empty, true);
  });

  test('a query Prometheus rejects is permanent INVALID_INPUT', async () => {
    const failure = await rejectsWith(
      prometheus().queryPrometheus({ query: 'rate(otlp_errors_total[5m' }),
      ErrorType.INVALID_INPUT,
    );
    assert.match(failure.message, /400 bad_data/);
    await rejectsWith(
      prometheus().queryPrometheusRange({ query: 'up', start: 1000, end: 1_000_000, stepSeconds: 1 }),
      ErrorType.INVALID_INPUT,
    );
  });

  test('Prometheus down is a transient (retryable) error', async () => {
    const down = createPrometheusClient({ prometheusUrl: `http://127.0.0.1:${await closedPort()}` });
    await assert.rejects(down.queryPrometheus({ query: 'up' }), (err: unknown) => {
      assert.ok(err instanceof Error);
      assert.ok(!(err instanceof ApplicationFailure && err.nonRetryable), 'must stay retryable');
      assert.match(err.message, /unreachable: ECONNREFUSED/);
      return true;
    });
  });

  test('Prometheus overloaded (503) is transient; a non-Prometheus URL is NOT_CONFIGURED', async () => {
    const overloaded = await serve((_req, res) => {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'error', errorType: 'timeout', error: 'query timed out' }));
    });
    await assert.rejects(
      createPrometheusClient({ prometheusUrl: overloaded }).queryPrometheus({ query: 'up' }),
      (err) => {
        assert.ok(!(err instanceof ApplicationFailure && err.nonRetryable));
        assert.match((err as Error).message, /503 \(timeout: query timed out\)/);
        return true;
      },
    );
    const notPrometheus = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>login</html>');
    });
    await rejectsWith(
      createPrometheusClient({ prometheusUrl: notPrometheus }).queryPrometheus({ query: 'up' }),
      ErrorType.NOT_CONFIGURED,
    );
    await rejectsWith(createPrometheusClient({}).queryPrometheus({ query: 'up' }), ErrorType.NOT_CONFIGURED);
  });
});

describe('analyzeMemoryTrend', () => {
  const end = Math.floor(Date.now() / 1000) * 1000;
  const memory = (pod: string, valueAt: (s: number) => number) => ({
    labels: { __name__: 'process_resident_memory_bytes', namespace: `mem-${run}`, pod },
    samples: sampleSeries(end - 600_000, end, 5, valueAt),
  });
  // Deterministic jitter so the fit works on something that looks like a real process.
  const jitter = (s: number) => Math.sin(s / 7) * 3 * MB;

  before(async () => {
    await remoteWrite(prometheusUrl, [
      memory('collector-leaky', (s) => 500 * MB + 2 * MB * s + jitter(s)),
      memory('collector-steady', (s) => 500 * MB + 0.1 * MB * s + jitter(s)),
      memory('collector-flat', (s) => 300 * MB + jitter(s)),
    ]);
  });

  test('a series growing 2 MB/s is a leak, with the figures behind it', async () => {
    const trend = await diagnostics.analyzeMemoryTrend({
      selector: `namespace="mem-${run}",pod="collector-leaky"`,
      windowSeconds: 600,
      end: end / 1000,
    });
    assert.equal(trend.leak, true);
    assert.equal(trend.noData, false);
    assert.ok(Math.abs(trend.slopeBytesPerSecond - 2 * MB) < 0.03 * 2 * MB, `slope ${trend.slopeBytesPerSecond}`);
    assert.ok(trend.samples >= 200, `samples ${trend.samples}`);
    assert.equal(trend.thresholdBytesPerSecond, MB);
    assert.ok(trend.worst && trend.worst.rSquared > 0.99);
    assert.ok(trend.worst.lastBytes - trend.worst.firstBytes > 1000 * MB);
    assert.match(trend.verdict, /^leak: memory grows 2\.\d\d MB\/s over 600s, \d+ samples, .*above 1\.00 MB\/s/);
  });

  test('slow growth and a flat series are not leaks', async () => {
    const steady = await diagnostics.analyzeMemoryTrend({
      selector: `namespace="mem-${run}",pod="collector-steady"`,
      windowSeconds: 600,
      end: end / 1000,
    });
    assert.equal(steady.leak, false);
    assert.ok(Math.abs(steady.slopeBytesPerSecond - 0.1 * MB) < 0.03 * MB, `slope ${steady.slopeBytesPerSecond}`);
    assert.match(steady.verdict, /^no leak: steepest growth/);

    const flat = await diagnostics.analyzeMemoryTrend({
      query: `process_resident_memory_bytes{namespace="mem-${run}",pod="collector-flat"}`,
      windowSeconds: 600,
      end: end / 1000,
    });
    assert.equal(flat.leak, false);
    assert.ok(Math.abs(flat.slopeBytesPerSecond) < 0.05 * MB, `slope ${flat.slopeBytesPerSecond}`);
  });

  test('the threshold is the caller’s: 0.05 MB/s makes the steady series a leak', async () => {
    const trend = await diagnostics.analyzeMemoryTrend({
      selector: `namespace="mem-${run}",pod="collector-steady"`,
      windowSeconds: 600,
      end: end / 1000,
      thresholdBytesPerSecond: 0.05 * MB,
    });
    assert.equal(trend.leak, true);
  });

  test('across several pods the steepest one decides', async () => {
    const trend = await diagnostics.analyzeMemoryTrend({
      selector: `namespace="mem-${run}"`,
      windowSeconds: 600,
      end: end / 1000,
    });
    assert.equal(trend.series.length, 3);
    assert.equal(trend.worst?.metric.pod, 'collector-leaky');
    assert.deepEqual(
      trend.series.map((s) => [s.metric.pod, s.leak]),
      [
        ['collector-leaky', true],
        ['collector-steady', false],
        ['collector-flat', false],
      ],
    );
    assert.match(trend.verdict, /pod=collector-leaky/);
  });

  test('a pod warming up inside the window is too short to call a leak', async () => {
    const namespace = `warmup-${run}`;
    await remoteWrite(prometheusUrl, [
      {
        labels: { __name__: 'process_resident_memory_bytes', namespace, pod: 'collector-restarted' },
        samples: sampleSeries(end - 60_000, end, 5, (s) => 50 * MB + 5 * MB * s),
      },
      {
        labels: { __name__: 'process_resident_memory_bytes', namespace, pod: 'collector-old' },
        samples: sampleSeries(end - 600_000, end, 5, (s) => 400 * MB + jitter(s)),
      },
    ]);
    const trend = await diagnostics.analyzeMemoryTrend({
      selector: `namespace="${namespace}"`,
      windowSeconds: 600,
      end: end / 1000,
    });
    assert.equal(trend.leak, false);
    assert.equal(trend.worst?.metric.pod, 'collector-old');
    const restarted = trend.series.find((s) => s.metric.pod === 'collector-restarted')!;
    assert.equal(restarted.tooShort, true);
    assert.ok(Math.abs(restarted.slopeBytesPerSecond - 5 * MB) < 0.1 * MB, 'its slope is still reported');

    const onlyShort = await diagnostics.analyzeMemoryTrend({
      selector: `namespace="${namespace}",pod="collector-restarted"`,
      windowSeconds: 600,
      end: end / 1000,
    });
    assert.equal(onlyShort.noData, true);
    assert.equal(onlyShort.leak, false);
    assert.match(onlyShort.verdict, /^insufficient data: no series spans 150s/);
  });

  test('no samples: a clear no-data verdict', async () => {
    const trend = await diagnostics.analyzeMemoryTrend({
      selector: `namespace="mem-${run}-absent"`,
      windowSeconds: 600,
    });
    assert.equal(trend.noData, true);
    assert.equal(trend.leak, false);
    assert.match(trend.verdict, /^no data: /);
  });

  test('neither query nor selector is INVALID_INPUT', async () => {
    await rejectsWith(diagnostics.analyzeMemoryTrend({ windowSeconds: 600 }), ErrorType.INVALID_INPUT);
  });
});

describe('findAvalancheRootCauseHints', () => {
  test('orders services by when they degraded and dates the request surge', async () => {
    const end = Math.floor(Date.now() / 1000) * 1000;
    const namespace = `avalanche-${run}`;
    const from = end - 1500_000;
    const jumps = { 'svc-b': end - 720_000, 'svc-a': end - 540_000, 'svc-c': end - 360_000 };
    const surge = end - 780_000;
    const series = Object.entries(jumps).flatMap(([service, at]) => {
      const sinceStart = (ms: number) => (ms - from) / 1000;
      const labels = { service, namespace };
      return [
        {
          labels: { ...labels, __name__: 'otlp_request_duration_seconds', quantile: '0.99' },
          samples: sampleSeries(from, end, 5, (s) => (s >= sinceStart(at) ? 0.8 : 0.05)),
        },
        {
          labels: { ...labels, __name__: 'otlp_errors_total' },
          samples: sampleSeries(from, end, 5, (s) => 5 * Math.max(0, s - sinceStart(at))),
        },
        {
          // 10 req/s each, 40 req/s once clients start retrying.
          labels: { ...labels, __name__: 'otlp_requests_total' },
          samples: sampleSeries(from, end, 5, (s) => 10 * s + 30 * Math.max(0, s - sinceStart(surge))),
        },
      ];
    });
    await remoteWrite(prometheusUrl, series);

    const hints = await diagnostics.findAvalancheRootCauseHints({
      services: ['svc-a', 'svc-b', 'svc-c', 'svc-quiet'],
      namespace,
      windowSeconds: 1200,
      end: end / 1000,
      stepSeconds: 15,
      rateWindow: '1m',
    });
    assert.equal(hints.noData, false);
    assert.deepEqual(hints.firstToJump, ['svc-b']);
    assert.deepEqual(hints.jumpOrder, ['svc-b', 'svc-a', 'svc-c']);
    for (const [service, at] of Object.entries(jumps)) {
      const signals = hints.services.find((s) => s.service === service)!;
      const seen = Date.parse(signals.firstJumpAt!);
      assert.ok(seen >= at && seen <= at + 15_000, `${service} jumped at ${signals.firstJumpAt}`);
      assert.equal(Date.parse(signals.latencyP99.jumpedAt!), seen, 'latency is the first sign');
      const errorsSeen = Date.parse(signals.errorRate.jumpedAt!);
      assert.ok(errorsSeen >= at && errorsSeen <= at + 30_000, `${service} errors at ${signals.errorRate.jumpedAt}`);
      assert.equal(signals.latencyP99.baseline, 0.05);
      assert.equal(signals.latencyP99.peak, 0.8);
    }
    const surgeSeen = Date.parse(hints.requestVolume.jumpedAt!);
    assert.ok(surgeSeen >= surge && surgeSeen <= surge + 60_000, `surge at ${hints.requestVolume.jumpedAt}`);
    assert.ok(Math.abs(hints.requestVolume.baseline! - 30) < 0.5, `baseline ${hints.requestVolume.baseline}`);
    assert.ok(Math.abs(hints.requestVolume.peak! - 120) < 1, `peak ${hints.requestVolume.peak}`);
    const quiet = hints.services.find((s) => s.service === 'svc-quiet')!;
    assert.equal(quiet.firstJumpAt, undefined);
    assert.match(hints.verdict, /^svc-b degraded first at .*; order svc-b → svc-a → svc-c; request volume jumped at /);
    assert.ok(
      hints.hints.some((h) => /^request volume 30\.00\/s → 120\/s from .*s before the first service degraded/.test(h)),
    );
    assert.ok(hints.hints.includes('no latency or error data for svc-quiet'));
  });

  test('steady services: no jump; unknown services: no data', async () => {
    const end = Math.floor(Date.now() / 1000) * 1000;
    const namespace = `steady-${run}`;
    await remoteWrite(prometheusUrl, [
      {
        labels: { __name__: 'otlp_request_duration_seconds', quantile: '0.99', service: 'svc', namespace },
        samples: sampleSeries(end - 900_000, end, 15, (s) => 0.05 + 0.005 * Math.sin(s)),
      },
    ]);
    const steady = await diagnostics.findAvalancheRootCauseHints({
      services: ['svc'],
      namespace,
      windowSeconds: 600,
      end: end / 1000,
    });
    assert.equal(steady.noData, false);
    assert.deepEqual(steady.firstToJump, []);
    assert.match(steady.verdict, /^no jump: /);

    const none = await diagnostics.findAvalancheRootCauseHints({
      services: ['svc'],
      namespace: `${namespace}-absent`,
      windowSeconds: 600,
    });
    assert.equal(none.noData, true);
    assert.match(none.verdict, /^no data: /);
  });
});

/**
 * Test-bed component `otelcol`: a real OpenTelemetry Collector built from Go modules by the
 * collector builder (test/otelcol/build.sh, manifest test/otelcol/manifest.yaml), one process with
 * two trace pipelines:
 *   healthy   OTLP (gRPC + HTTP) → batch → file exporter: every span lands, as OTLP JSON lines, in
 *             a file the tests read (readExportedSpans)
 *   dropping  OTLP (gRPC + HTTP) → OTLP/gRPC exporter to a loopback gRPC backend that takes
 *             every call and never answers, with a 1 s timeout, retries off and a sending queue
 *             of two requests drained by one consumer: sends time out, the full queue refuses the
 *             rest back to the sender, and the collector's own drop counters rise
 * The collector's own metrics (otelcol_receiver_refused_spans, otelcol_exporter_send_failed_spans,
 * otelcol_exporter_enqueue_failed_spans, otelcol_exporter_queue_size/_capacity, the batch
 * processor's; no `_total` suffix in this release) are served on a loopback port that the bed's
 * Prometheus scrapes as job `otelcol`.
 *
 * Env for test processes:
 *   FIREBREAK_TEST_OTELCOL_OTLP_HTTP / _OTLP_GRPC                    the healthy pipeline (http://host:port, host:port)
 *   FIREBREAK_TEST_OTELCOL_DROPPING_OTLP_HTTP / _DROPPING_OTLP_GRPC  the dropping pipeline
 *   FIREBREAK_TEST_OTELCOL_TRACES_FILE   what the healthy pipeline exported
 *   FIREBREAK_TEST_OTELCOL_METRICS_URL   the collector's own metrics
 *
 * Standalone: `node --import tsx test/bed/otelcol.ts` prints the env and runs until interrupted.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type ServerHttp2Session } from 'node:http2';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify as toYaml } from 'yaml';
import { runBuildScript } from './build';
import { runStandalone, type BedComponent, type BedOptions } from './component';
import { freePorts } from './ports';
import { launchServer } from './process';
import { registerScrapeTarget } from './prometheus';

const HOST = '127.0.0.1';

/** Builds (or finds cached) the collector; returns the binary's path. */
export function ensureOtelcolBinary(log: (msg: string) => void): Promise<string> {
  return runBuildScript('test/otelcol/build.sh', '', log);
}

export async function startOtelcol(opts: BedOptions): Promise<BedComponent> {
  const binary = await ensureOtelcolBinary(opts.log);
  const [healthyGrpc, healthyHttp, droppingGrpc, droppingHttp, metricsPort] = (await freePorts(5)) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const blackhole = await startBlackhole();
  const tracesFile = path.join(opts.workDir, 'traces.jsonl');
  const otlp = (grpc: number, http: number) => ({
    protocols: { grpc: { endpoint: `${HOST}:${grpc}` }, http: { endpoint: `${HOST}:${http}` } },
  });
  const config = {
    receivers: { 'otlp/healthy': otlp(healthyGrpc, healthyHttp), 'otlp/dropping': otlp(droppingGrpc, droppingHttp) },
    processors: { batch: { timeout: '200ms' } },
    exporters: {
      file: { path: tracesFile, flush_interval: '100ms' },
      'otlp_grpc/blackhole': {
        endpoint: `${HOST}:${blackhole.port}`,
        tls: { insecure: true },
        timeout: '1s',
        retry_on_failure: { enabled: false },
        sending_queue: { enabled: true, num_consumers: 1, queue_size: 2 },
      },
    },
    service: {
      telemetry: {
        logs: { level: 'warn' },
        metrics: {
          level: 'detailed',
          readers: [{ pull: { exporter: { prometheus: { host: HOST, port: metricsPort } } } }],
        },
      },
      pipelines: {
        'traces/healthy': { receivers: ['otlp/healthy'], processors: ['batch'], exporters: ['file'] },
        // No batch processor: a full queue refuses the request back to the receiver (and the sender).
        'traces/dropping': { receivers: ['otlp/dropping'], exporters: ['otlp_grpc/blackhole'] },
      },
    },
  };
  const configPath = path.join(opts.workDir, 'otelcol.yaml');
  await writeFile(configPath, toYaml(config));
  const metricsUrl = `http://${HOST}:${metricsPort}/metrics`;
  const healthyUrl = `http://${HOST}:${healthyHttp}`;
  const droppingUrl = `http://${HOST}:${droppingHttp}`;

  const { stop } = await launchServer({
    name: 'otelcol',
    binary,
    args: [`--config=${configPath}`],
    // Telemetry starts before the pipelines; both receivers answering means the pipelines run.
    ready: async () =>
      (await fetch(metricsUrl)).ok && (await answers(`${healthyUrl}/v1/traces`)) && answers(`${droppingUrl}/v1/traces`),
    readyTimeoutMs: 30_000,
    stopTimeoutMs: 10_000,
    logFile: path.join(opts.workDir, 'otelcol.log'),
    alsoStop: blackhole.stop,
  });
  await registerScrapeTarget(opts.env, 'otelcol', metricsUrl);
  opts.log(`otelcol ready: healthy ${healthyUrl}, dropping ${droppingUrl}, metrics ${metricsUrl}`);
  return {
    env: {
      FIREBREAK_TEST_OTELCOL_OTLP_HTTP: healthyUrl,
      FIREBREAK_TEST_OTELCOL_OTLP_GRPC: `${HOST}:${healthyGrpc}`,
      FIREBREAK_TEST_OTELCOL_DROPPING_OTLP_HTTP: droppingUrl,
      FIREBREAK_TEST_OTELCOL_DROPPING_OTLP_GRPC: `${HOST}:${droppingGrpc}`,
      FIREBREAK_TEST_OTELCOL_TRACES_FILE: tracesFile,
      FIREBREAK_TEST_OTELCOL_METRICS_URL: metricsUrl,
    },
    stop,
  };
}

/**
 * A backend that hangs: a cleartext HTTP/2 server (what an insecure gRPC client speaks) that
 * accepts the connection and every call and never answers one. The channel is ready, so each
 * export waits out its whole timeout — deterministic, unlike a closed port, which gRPC learns to
 * fail at once, or a bare TCP listener, whose handshake timeout puts the channel in back-off.
 */
async function startBlackhole(): Promise<{ port: number; stop(): Promise<void> }> {
  const sessions = new Set<ServerHttp2Session>();
  const server = createServer();
  server.on('session', (session) => {
    sessions.add(session);
    session.on('error', () => undefined);
    session.on('close', () => sessions.delete(session));
  });
  server.on('stream', (stream) => stream.on('error', () => undefined));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    stop: async () => {
      for (const session of sessions) session.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Any HTTP answer (an empty POST is a 4xx) means the receiver listens. */
async function answers(url: string): Promise<boolean> {
  await fetch(url, { method: 'POST', signal: AbortSignal.timeout(1_000) });
  return true;
}

// ---------------------------------------------------------------------------------------------
// For test files: sending spans to a pipeline, and what the healthy pipeline exported.

/**
 * Posts one OTLP/JSON export request to a pipeline's OTLP/HTTP endpoint `base`: the HTTP status,
 * or 0 when it did not answer within 5 s.
 */
export async function postOtlpTraces(base: string, body: unknown): Promise<number> {
  try {
    const res = await fetch(`${base}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(5_000),
    });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

export interface ExportedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes: Record<string, unknown>;
  resource: Record<string, unknown>;
  scope?: string;
}

interface OtlpAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: number;
  arrayValue?: { values?: OtlpAnyValue[] };
}
interface OtlpKeyValue {
  key: string;
  value?: OtlpAnyValue;
}
interface OtlpTraces {
  resourceSpans?: {
    resource?: { attributes?: OtlpKeyValue[] };
    scopeSpans?: {
      scope?: { name?: string };
      spans?: { traceId: string; spanId: string; parentSpanId?: string; name: string; attributes?: OtlpKeyValue[] }[];
    }[];
  }[];
}

function plain(value: OtlpAnyValue | undefined): unknown {
  if (!value) return undefined;
  if (value.arrayValue) return (value.arrayValue.values ?? []).map(plain);
  return (
    value.stringValue ?? value.boolValue ?? (value.intValue !== undefined ? Number(value.intValue) : value.doubleValue)
  );
}

const attributeMap = (list: OtlpKeyValue[] | undefined) =>
  Object.fromEntries((list ?? []).map((kv) => [kv.key, plain(kv.value)]));

/** Every span in the file exporter's output (one OTLP/JSON request per line), flattened. */
export async function readExportedSpans(file: string): Promise<ExportedSpan[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const spans: ExportedSpan[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    for (const resourceSpans of (JSON.parse(line) as OtlpTraces).resourceSpans ?? []) {
      const resource = attributeMap(resourceSpans.resource?.attributes);
      for (const scopeSpans of resourceSpans.scopeSpans ?? []) {
        for (const span of scopeSpans.spans ?? []) {
          spans.push({
            traceId: span.traceId,
            spanId: span.spanId,
            parentSpanId: span.parentSpanId || undefined,
            name: span.name,
            attributes: attributeMap(span.attributes),
            resource,
            scope: scopeSpans.scope?.name,
          });
        }
      }
    }
  }
  return spans;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  runStandalone('otelcol', startOtelcol);
}

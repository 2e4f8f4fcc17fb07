/**
 * Test bed component: Debian's `prometheus` on loopback, so diagnostics queries hit a real PromQL
 * engine. Two ways in for data, because tests need both realism and exact figures:
 *  - a scrape target in this process (MetricsTarget), scraped every second, whose gauges tests set
 *    over HTTP — the path production data takes;
 *  - the remote-write receiver, through which tests write series with exact timestamps (a leak
 *    growing 2 MB/s, a flat one, services whose latency jumps at known moments) in milliseconds
 *    instead of waiting minutes for scrapes.
 *
 * Other bed components that serve metrics of their own (the OpenTelemetry Collector, the
 * PostgreSQL-backed Temporal server) register as scrape targets with registerScrapeTarget: a file
 * in the targets directory, which Prometheus watches (file-based service discovery), so a target
 * can join whether its component starts before or after Prometheus.
 *
 * Standalone: `node --import tsx test/bed/prometheus.ts [--for SECONDS]` prints the env and runs
 * until interrupted (or SECONDS, default 3600).
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runStandalone, type BedComponent, type BedOptions } from './component';
import { MetricsTarget } from './metrics-target';
import { freePort } from './ports';
import { launchServer } from './process';

const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

export async function startPrometheus(opts: BedOptions): Promise<BedComponent> {
  const binary = process.env.FIREBREAK_PROMETHEUS_BIN ?? 'prometheus';
  const dir = join(opts.workDir, 'prometheus');
  const targetsDir = join(dir, 'targets');
  await mkdir(join(dir, 'data'), { recursive: true });
  await mkdir(targetsDir, { recursive: true });

  const target = new MetricsTarget();
  const targetUrl = await target.start();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;

  // Out-of-order ingestion lets tests write history behind samples the scrapes already appended.
  const config = [
    'global:',
    '  scrape_interval: 1s',
    '  scrape_timeout: 900ms',
    '  evaluation_interval: 1s',
    'storage:',
    '  tsdb:',
    '    out_of_order_time_window: 6h',
    'scrape_configs:',
    '  - job_name: firebreak-test-target',
    '    static_configs:',
    `      - targets: ['${new URL(targetUrl).host}']`,
    '  - job_name: firebreak-bed-components',
    '    file_sd_configs:',
    `      - files: ['${targetsDir}/*.json']`,
    '',
  ].join('\n');
  const configPath = join(dir, 'prometheus.yml');
  await writeFile(configPath, config);

  const { stop } = await launchServer({
    name: 'prometheus',
    binary,
    args: [
      `--config.file=${configPath}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--web.enable-remote-write-receiver',
      '--storage.tsdb.retention.time=1d',
      '--log.level=warn',
    ],
    ready: url,
    readyTimeoutMs: READY_TIMEOUT_MS,
    stopTimeoutMs: STOP_TIMEOUT_MS,
    alsoStop: () => target.stop(),
  });
  opts.log(`prometheus ready at ${url}, scraping ${targetUrl}`);
  return {
    env: {
      FIREBREAK_TEST_PROMETHEUS_URL: url,
      FIREBREAK_TEST_METRICS_TARGET_URL: targetUrl,
      FIREBREAK_TEST_PROMETHEUS_TARGETS_DIR: targetsDir,
    },
    stop,
  };
}

/**
 * Adds `metricsUrl` (http://host:port/metrics) to the bed's Prometheus as job `name`, when the bed
 * runs one (`env` holds what earlier components exported); a no-op otherwise.
 */
export async function registerScrapeTarget(env: BedOptions['env'], name: string, metricsUrl: string): Promise<void> {
  const dir = env?.FIREBREAK_TEST_PROMETHEUS_TARGETS_DIR;
  if (!dir) return;
  const url = new URL(metricsUrl);
  const group = [{ targets: [url.host], labels: { job: name, __metrics_path__: url.pathname } }];
  // Written whole then renamed: Prometheus must never read a half-written file.
  const file = join(dir, `${name}.json`);
  await writeFile(`${file}.tmp`, JSON.stringify(group));
  await rename(`${file}.tmp`, file);
}

// ---------------------------------------------------------------------------------------------
// Remote write 1.0: a snappy-compressed protobuf WriteRequest. Encoded by hand (a few fields,
// literal-only snappy blocks, which every snappy decoder accepts) to keep the bed dependency-free.

export interface SeriesToWrite {
  /** Includes the metric name under `__name__`. */
  labels: Record<string, string>;
  /** Ascending timestamps in milliseconds since the epoch. */
  samples: Array<{ timestampMs: number; value: number }>;
}

export async function remoteWrite(prometheusUrl: string, series: SeriesToWrite[]): Promise<void> {
  const body = snappyLiteralBlock(encodeWriteRequest(series));
  const res = await fetch(`${prometheusUrl}/api/v1/write`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-protobuf',
      'content-encoding': 'snappy',
      'x-prometheus-remote-write-version': '0.1.0',
    },
    body,
    signal: AbortSignal.timeout(10_000),
  });
  if (res.status >= 300) throw new Error(`remote write refused: ${res.status} ${await res.text()}`);
}

/** Builds evenly spaced samples from a function of the offset (seconds) from `startMs`. */
export function sampleSeries(
  startMs: number,
  endMs: number,
  stepSeconds: number,
  valueAt: (offsetSeconds: number) => number,
): Array<{ timestampMs: number; value: number }> {
  const samples: Array<{ timestampMs: number; value: number }> = [];
  for (let t = startMs; t <= endMs; t += stepSeconds * 1000) {
    samples.push({ timestampMs: Math.round(t), value: valueAt((t - startMs) / 1000) });
  }
  return samples;
}

export function encodeWriteRequest(series: SeriesToWrite[]): Uint8Array {
  const out = new ByteWriter();
  for (const one of series) {
    const ts = new ByteWriter();
    for (const [name, value] of Object.entries(one.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const label = new ByteWriter();
      label.string(1, name);
      label.string(2, value);
      ts.bytes(1, label.finish());
    }
    for (const sample of one.samples) {
      const encoded = new ByteWriter();
      encoded.double(1, sample.value);
      encoded.varintField(2, sample.timestampMs);
      ts.bytes(2, encoded.finish());
    }
    out.bytes(1, ts.finish());
  }
  return out.finish();
}

export function snappyLiteralBlock(data: Uint8Array): Uint8Array {
  const out = new ByteWriter();
  out.varint(data.length);
  const chunk = 65536;
  for (let offset = 0; offset < data.length; offset += chunk) {
    const piece = data.subarray(offset, Math.min(offset + chunk, data.length));
    const n = piece.length - 1;
    if (n < 60) out.raw([n << 2]);
    else if (n < 0x100) out.raw([60 << 2, n]);
    else out.raw([61 << 2, n & 0xff, n >> 8]);
    out.raw(piece);
  }
  return out.finish();
}

class ByteWriter {
  private readonly parts: number[] = [];

  raw(bytes: ArrayLike<number>): void {
    for (let i = 0; i < bytes.length; i++) this.parts.push(bytes[i]!);
  }

  /** Non-negative integers up to 2^53, without 32-bit bit operations (timestamps exceed them). */
  varint(value: number): void {
    let v = value;
    while (v >= 0x80) {
      this.parts.push((v % 0x80) + 0x80);
      v = Math.floor(v / 0x80);
    }
    this.parts.push(v);
  }

  varintField(field: number, value: number): void {
    this.varint((field << 3) | 0);
    this.varint(value);
  }

  double(field: number, value: number): void {
    this.varint((field << 3) | 1);
    const buf = new DataView(new ArrayBuffer(8));
    buf.setFloat64(0, value, true);
    this.raw(new Uint8Array(buf.buffer));
  }

  bytes(field: number, value: Uint8Array): void {
    this.varint((field << 3) | 2);
    this.varint(value.length);
    this.raw(value);
  }

  string(field: number, value: string): void {
    this.bytes(field, new TextEncoder().encode(value));
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  runStandalone('prometheus', startPrometheus);
}

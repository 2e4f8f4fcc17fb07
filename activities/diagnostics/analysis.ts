/**
 * The statistics behind the verdicts — least squares, jump detection, 001's DiagnosticReport — and
 * the queries and thresholds the source documents use. Pure: tests feed them series directly.
 */
import { promString } from './prometheus';
import type { CheckStatus, DiagnosticCheck, DiagnosticReport, MetricCheckSpec } from './types';

/** The metrics the source documents query (002 cases 1 and 2, 003's collector metric list). */
export const OTLP_METRICS = {
  latencyP99: 'otlp_request_duration_seconds',
  errors: 'otlp_errors_total',
  requests: 'otlp_requests_total',
  residentMemory: 'process_resident_memory_bytes',
} as const;

/** 002 case 2: resident memory growing faster than 1 MB/s (a linear fit) is a leak. */
export const LEAK_THRESHOLD_BYTES_PER_SECOND = 1_000_000;

/** 002 case 1 symptoms: `otlp_request_duration_seconds{quantile="0.99"} > 0.5`, `rate(otlp_errors_total[5m]) > 100`. */
export const P99_LATENCY_FAIL_SECONDS = 0.5;
export const ERROR_RATE_FAIL_PER_SECOND = 100;

export function buildDiagnosticReport(
  checks: DiagnosticCheck[],
  timestamp: Date | string = new Date(),
): DiagnosticReport {
  const at = typeof timestamp === 'string' ? timestamp : timestamp.toISOString();
  const passed = checks.filter((c) => c.status === 'success').length;
  const warnings = checks.filter((c) => c.status === 'warning').length;
  const failures = checks.filter((c) => c.status === 'failure').length;
  const summary = `${passed}/${checks.length} passed, ${warnings} warnings, ${failures} failures`;
  const status: CheckStatus = failures > 0 ? 'failure' : warnings > 0 ? 'warning' : 'success';
  const tests = Object.fromEntries(checks.map((c) => [c.name, { status: c.status, message: c.message, data: c.data }]));
  const json = JSON.stringify({ timestamp: at, summary, status, tests });
  return { timestamp: at, summary, total: checks.length, passed, warnings, failures, status, checks, json };
}

export interface LinearFit {
  slope: number;
  intercept: number;
  rSquared: number;
}

/** Ordinary least squares of y on x; undefined with fewer than two distinct x. */
export function leastSquares(points: ReadonlyArray<readonly [number, number]>): LinearFit | undefined {
  const n = points.length;
  if (n < 2) return undefined;
  // Centre x on its first value: Unix seconds squared lose precision in doubles.
  const x0 = points[0]![0];
  let sx = 0;
  let sy = 0;
  for (const [x, y] of points) {
    sx += x - x0;
    sy += y;
  }
  const mx = sx / n;
  const my = sy / n;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (const [x, y] of points) {
    const dx = x - x0 - mx;
    const dy = y - my;
    sxx += dx * dx;
    sxy += dx * dy;
    syy += dy * dy;
  }
  if (sxx === 0) return undefined;
  const slope = sxy / sxx;
  const rSquared = syy === 0 ? 1 : (sxy * sxy) / (sxx * syy);
  return { slope, intercept: my - slope * (mx + x0), rSquared };
}

/**
 * Where a signal left its baseline: the median of the first quarter of the window is the baseline;
 * the first later point at `factor` × baseline and `minDelta` above it is the jump.
 */
export function detectJump(
  points: ReadonlyArray<readonly [number, number]>,
  factor: number,
  minDelta: number,
): { baseline: number; peak: number; jumpedAt?: number } | undefined {
  if (points.length === 0) return undefined;
  const peak = Math.max(...points.map(([, v]) => v));
  const baselineCount = Math.max(1, Math.min(points.length - 1, Math.ceil(points.length / 4)));
  const baseline = median(points.slice(0, baselineCount).map(([, v]) => v));
  if (points.length < 3) return { baseline, peak };
  const threshold = Math.max(baseline * factor, baseline + minDelta);
  for (let i = baselineCount; i < points.length; i++) {
    if (points[i]![1] >= threshold) return { baseline, peak, jumpedAt: points[i]![0] };
  }
  return { baseline, peak };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function formatBytes(bytes: number): string {
  const abs = Math.abs(bytes);
  if (abs >= 1e9) return `${(bytes / 1e9).toFixed(2)} GB`;
  if (abs >= 1e6) return `${(bytes / 1e6).toFixed(2)} MB`;
  if (abs >= 1e3) return `${(bytes / 1e3).toFixed(1)} kB`;
  return `${Math.round(bytes)} B`;
}

/**
 * Metric checks for one service with the documents' queries and thresholds (002 case 1): p99
 * latency above 0.5 s and error rate above 100/s fail.
 */
export function serviceMetricChecks(input: {
  service: string;
  namespace?: string;
  serviceLabel?: string;
}): MetricCheckSpec[] {
  const matchers = [`${input.serviceLabel ?? 'service'}=${promString(input.service)}`];
  if (input.namespace) matchers.push(`namespace=${promString(input.namespace)}`);
  const sel = matchers.join(',');
  return [
    {
      name: 'p99_latency',
      query: `max(${OTLP_METRICS.latencyP99}{quantile="0.99",${sel}})`,
      warnAbove: P99_LATENCY_FAIL_SECONDS / 2,
      failAbove: P99_LATENCY_FAIL_SECONDS,
      unit: 's',
    },
    {
      name: 'error_rate',
      query: `sum(rate(${OTLP_METRICS.errors}{${sel}}[5m]))`,
      warnAbove: 1,
      failAbove: ERROR_RATE_FAIL_PER_SECOND,
      unit: '/s',
      whenNoData: 'success',
    },
    { name: 'request_volume', query: `sum(rate(${OTLP_METRICS.requests}{${sel}}[5m]))`, unit: '/s' },
  ];
}

export function labelsText(metric: Record<string, string>): string {
  return Object.entries(metric)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
}

export function roundFigure(value: number): string {
  if (value === 0) return '0';
  const abs = Math.abs(value);
  return abs >= 100 ? value.toFixed(0) : abs >= 1 ? value.toFixed(2) : value.toPrecision(2);
}

/**
 * Diagnostics activities: the runbooks' eyes. HTTP health checks, Prometheus queries (the ones the
 * source documents use), the memory-leak verdict of 002 case 2, root-cause hints for an avalanche
 * (000 §6.1, 004 §5) and the DiagnosticReport of 001 that runbooks post to the incident.
 *
 * Everything here only reads. An unhealthy target, an empty result or a series without a jump is an
 * answer, not an error: activities throw only when they could not ask the question (Prometheus
 * unreachable → transient; a query Prometheus rejects or missing configuration → permanent).
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { ApplicationFailure } from '@temporalio/common';
import { ErrorType } from '../common/errors';
import { forbiddenHealthCheckHost } from '../common/network';

export interface DiagnosticsDeps {
  /** Base URL of the Prometheus HTTP API (PROMETHEUS_URL), e.g. http://prometheus:9090 */
  prometheusUrl?: string;
  fetch?: typeof fetch;
  /** Per-request timeout for Prometheus calls; the query itself is given one second less. */
  prometheusTimeoutMs?: number;
}

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

const DEFAULT_HEALTH_TIMEOUT_MS = 5000;
const MAX_HEALTH_TIMEOUT_MS = 60_000;
const BODY_EXCERPT_CHARS = 300;
const BODY_READ_LIMIT_BYTES = 64 * 1024;
/** As many as fetch's own `redirect: 'follow'` would take is more than a health endpoint needs. */
const MAX_HEALTH_REDIRECTS = 5;
const DEFAULT_PROMETHEUS_TIMEOUT_MS = 15_000;
/** Prometheus refuses more than 11,000 points per series in a range query. */
const MAX_RANGE_POINTS = 11_000;
const DEFAULT_RANGE_POINTS = 240;

// ---------------------------------------------------------------------------------------------
// Shapes

export interface HealthCheckInput {
  url: string;
  timeoutMs?: number;
  /** Exact status that counts as healthy; by default any 2xx. */
  expectStatus?: number;
}

export interface HealthCheckResult {
  url: string;
  healthy: boolean;
  status?: number;
  latencyMs: number;
  bodyExcerpt: string;
  error?: string;
  verdict: string;
}

/** A time for the Prometheus API: RFC 3339 text or Unix seconds. */
export type PromTime = string | number;

export interface InstantSample {
  metric: Record<string, string>;
  /** Unix seconds. */
  timestamp: number;
  /** null when Prometheus answered NaN or ±Inf (they do not survive JSON payloads); see `text`. */
  value: number | null;
  text: string;
}

export interface InstantQueryResult {
  query: string;
  resultType: 'vector' | 'scalar' | 'string' | 'matrix';
  series: InstantSample[];
  empty: boolean;
  warnings: string[];
}

export interface RangeSeries {
  metric: Record<string, string>;
  /** [Unix seconds, value] pairs in time order; NaN/±Inf points are dropped. */
  points: Array<[number, number]>;
}

export interface RangeQueryInput {
  query: string;
  start: PromTime;
  end: PromTime;
  stepSeconds: number;
}

export interface RangeQueryResult {
  query: string;
  start: number;
  end: number;
  stepSeconds: number;
  series: RangeSeries[];
  empty: boolean;
  warnings: string[];
}

export interface MemoryTrendInput {
  /** A full PromQL query returning resident memory in bytes, one series per process. */
  query?: string;
  /** Label matchers for `process_resident_memory_bytes`, e.g. `namespace="shop",pod=~"checkout-.*"`. */
  selector?: string;
  windowSeconds: number;
  thresholdBytesPerSecond?: number;
  /** End of the window (RFC 3339 or Unix seconds); now by default. */
  end?: PromTime;
  stepSeconds?: number;
  /**
   * Series shorter than this (a pod started inside the window) cannot be judged: a process warming
   * up grows fast for a minute and is no leak. A quarter of the window by default.
   */
  minSpanSeconds?: number;
}

export interface MemorySeriesTrend {
  metric: Record<string, string>;
  samples: number;
  slopeBytesPerSecond: number;
  /** Goodness of the linear fit, 0..1: how steady the growth is. */
  rSquared: number;
  firstBytes: number;
  lastBytes: number;
  spanSeconds: number;
  leak: boolean;
  /** Too short to judge (see `minSpanSeconds`); never a leak, never the worst series. */
  tooShort: boolean;
}

export interface MemoryTrendResult {
  query: string;
  windowSeconds: number;
  thresholdBytesPerSecond: number;
  /** The steepest series' slope (least squares); 0 when there is no data. */
  slopeBytesPerSecond: number;
  leak: boolean;
  /** Samples behind the steepest series' fit. */
  samples: number;
  noData: boolean;
  verdict: string;
  /** The series with the steepest growth, when there is one. */
  worst?: MemorySeriesTrend;
  series: MemorySeriesTrend[];
}

export type CheckStatus = 'success' | 'warning' | 'failure';

export interface DiagnosticCheck {
  name: string;
  status: CheckStatus;
  message: string;
  data?: Record<string, unknown>;
}

/** 001's DiagnosticReport: named checks, a summary line and the JSON runbooks post. */
export interface DiagnosticReport {
  timestamp: string;
  /** "N/M passed, W warnings, F failures" */
  summary: string;
  total: number;
  passed: number;
  warnings: number;
  failures: number;
  /** The worst status among the checks (success when there are none). */
  status: CheckStatus;
  checks: DiagnosticCheck[];
  json: string;
}

export interface MetricCheckSpec {
  name: string;
  query: string;
  /** Compared with the largest value the query returns. */
  warnAbove?: number;
  failAbove?: number;
  unit?: string;
  /** What an empty result means for this check; a warning by default (we could not tell). */
  whenNoData?: CheckStatus;
}

export interface HealthCheckSpec extends HealthCheckInput {
  name: string;
  /** A healthy answer slower than this is a warning. */
  slowMs?: number;
}

export interface MemoryTrendSpec extends MemoryTrendInput {
  name: string;
}

export interface DiagnosticReportInput {
  healthChecks?: HealthCheckSpec[];
  metricChecks?: MetricCheckSpec[];
  memoryTrends?: MemoryTrendSpec[];
  /** Checks another activity already decided (pods, events, configuration presence). */
  checks?: DiagnosticCheck[];
}

export interface SignalJump {
  baseline: number | null;
  peak: number | null;
  /** ISO time of the first point that left the baseline; absent when the signal never jumped. */
  jumpedAt?: string;
}

export interface ServiceAvalancheSignals {
  service: string;
  latencyP99: SignalJump;
  errorRate: SignalJump;
  requestRate: SignalJump;
  /** Earliest of the latency and error-rate jumps. */
  firstJumpAt?: string;
}

export interface AvalancheHintsInput {
  services: string[];
  namespace?: string;
  windowSeconds: number;
  end?: PromTime;
  stepSeconds?: number;
  /** Range of the rate() windows; the documents use 5m, shorter windows date a jump more sharply. */
  rateWindow?: string;
  /** Label that names the service on the OTLP metrics. */
  serviceLabel?: string;
  /** A jump is a value at least this many times the baseline (and above a small absolute floor). */
  jumpFactor?: number;
}

export interface AvalancheHints {
  from: string;
  to: string;
  stepSeconds: number;
  services: ServiceAvalancheSignals[];
  /** Services whose latency or error rate jumped earliest (ties share the first place), oldest first. */
  firstToJump: string[];
  /** All services that jumped, in the order they jumped. */
  jumpOrder: string[];
  requestVolume: SignalJump;
  noData: boolean;
  hints: string[];
  verdict: string;
}

// ---------------------------------------------------------------------------------------------
// Pure helpers (exported for tests and for callers that assemble checks themselves)

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

/** Quotes a PromQL label value. */
export function promString(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

function regexAlternation(values: string[]): string {
  return values.map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
}

function toUnixSeconds(time: PromTime): number {
  if (typeof time === 'number') return time;
  const numeric = Number(time);
  if (time.trim() !== '' && Number.isFinite(numeric)) return numeric;
  const ms = Date.parse(time);
  if (Number.isNaN(ms))
    throw ApplicationFailure.nonRetryable(`not a time: ${JSON.stringify(time)}`, ErrorType.INVALID_INPUT);
  return ms / 1000;
}

const iso = (unixSeconds: number) => new Date(Math.round(unixSeconds * 1000)).toISOString();

function parseSampleValue(text: string): number | null {
  const value = Number(text);
  return Number.isFinite(value) ? value : null;
}

/**
 * Why a URL's host — as written, or any address it resolves to — is off limits for a health check.
 * An unresolvable name is left to the fetch, which reports it as unreachable.
 */
async function forbiddenDestination(url: URL): Promise<string | undefined> {
  const literal = forbiddenHealthCheckHost(url.hostname);
  if (literal) return literal;
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (isIP(host)) return undefined;
  const addresses = await lookup(host, { all: true }).catch(() => []);
  for (const { address } of addresses) {
    const reason = forbiddenHealthCheckHost(address);
    if (reason) return `${url.hostname} (resolves to ${reason})`;
  }
  return undefined;
}

function describeFetchError(err: unknown): string {
  if (err instanceof Error) {
    if (err.name === 'TimeoutError' || err.name === 'AbortError') return 'timed out';
    const cause = (err as Error & { cause?: { code?: string; message?: string } }).cause;
    if (cause?.code) return `${cause.code}${cause.message ? ` (${cause.message})` : ''}`;
    return err.message;
  }
  return String(err);
}

// ---------------------------------------------------------------------------------------------
// Activities

export function createDiagnosticsActivities(deps: DiagnosticsDeps) {
  const doFetch = deps.fetch ?? fetch;
  const prometheusTimeoutMs = deps.prometheusTimeoutMs ?? DEFAULT_PROMETHEUS_TIMEOUT_MS;

  async function prometheusApi(
    path: string,
    params: Record<string, string>,
  ): Promise<{ data: unknown; warnings: string[] }> {
    if (!deps.prometheusUrl) {
      throw ApplicationFailure.nonRetryable('PROMETHEUS_URL is not configured', ErrorType.NOT_CONFIGURED);
    }
    const url = `${deps.prometheusUrl.replace(/\/+$/, '')}${path}`;
    const body = new URLSearchParams({
      ...params,
      timeout: `${Math.max(1, Math.floor(prometheusTimeoutMs / 1000) - 1)}s`,
    });
    let res: Response;
    let text: string;
    try {
      res = await doFetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body,
        signal: AbortSignal.timeout(prometheusTimeoutMs),
      });
      text = await res.text();
    } catch (err) {
      // Unreachable or slow: Temporal retries with backoff.
      throw new Error(`Prometheus at ${deps.prometheusUrl} unreachable: ${describeFetchError(err)}`, {
        cause: err,
      });
    }
    let parsed:
      { status?: string; data?: unknown; errorType?: string; error?: string; warnings?: string[] } | undefined;
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch {
      parsed = undefined;
    }
    if (res.ok && parsed?.status === 'success') return { data: parsed.data, warnings: parsed.warnings ?? [] };
    const reason = parsed?.error ? `${parsed.errorType ?? 'error'}: ${parsed.error}` : text.slice(0, 200);
    // 400 bad_data and 422 execution errors are about the query: asking again cannot help.
    if (res.status === 400 || res.status === 422) {
      throw ApplicationFailure.nonRetryable(
        `Prometheus rejected the query (${res.status} ${reason})`,
        ErrorType.INVALID_INPUT,
      );
    }
    if (res.status === 401 || res.status === 403 || res.status === 404 || (res.ok && !parsed)) {
      throw ApplicationFailure.nonRetryable(
        `${url} does not answer like the Prometheus API (${res.status} ${reason})`,
        ErrorType.NOT_CONFIGURED,
      );
    }
    throw new Error(`Prometheus answered ${res.status} (${reason})`);
  }

  async function queryPrometheus(input: { query: string; time?: PromTime }): Promise<InstantQueryResult> {
    const params: Record<string, string> = { query: input.query };
    if (input.time !== undefined) params.time = String(toUnixSeconds(input.time));
    const { data, warnings } = await prometheusApi('/api/v1/query', params);
    const { resultType, result } = data as { resultType: InstantQueryResult['resultType']; result: unknown };
    let series: InstantSample[];
    if (resultType === 'vector') {
      series = (result as Array<{ metric: Record<string, string>; value: [number, string] }>).map((s) => ({
        metric: s.metric,
        timestamp: s.value[0],
        value: parseSampleValue(s.value[1]),
        text: s.value[1],
      }));
    } else if (resultType === 'scalar' || resultType === 'string') {
      const [timestamp, text] = result as [number, string];
      series = [{ metric: {}, timestamp, value: resultType === 'scalar' ? parseSampleValue(text) : null, text }];
    } else {
      // A range selector evaluated as an instant query: keep each series' latest sample.
      series = (result as Array<{ metric: Record<string, string>; values: Array<[number, string]> }>).flatMap((s) => {
        const last = s.values.at(-1);
        return last ? [{ metric: s.metric, timestamp: last[0], value: parseSampleValue(last[1]), text: last[1] }] : [];
      });
    }
    return { query: input.query, resultType, series, empty: series.length === 0, warnings };
  }

  async function queryPrometheusRange(input: RangeQueryInput): Promise<RangeQueryResult> {
    const start = toUnixSeconds(input.start);
    const end = toUnixSeconds(input.end);
    if (!(end > start)) {
      throw ApplicationFailure.nonRetryable(
        `range end must be after its start (${start} → ${end})`,
        ErrorType.INVALID_INPUT,
      );
    }
    if (!(input.stepSeconds > 0) || (end - start) / input.stepSeconds > MAX_RANGE_POINTS) {
      throw ApplicationFailure.nonRetryable(
        `step ${input.stepSeconds}s gives more than ${MAX_RANGE_POINTS} points over ${end - start}s`,
        ErrorType.INVALID_INPUT,
      );
    }
    const { data, warnings } = await prometheusApi('/api/v1/query_range', {
      query: input.query,
      start: String(start),
      end: String(end),
      step: String(input.stepSeconds),
    });
    const { result } = data as { result: Array<{ metric: Record<string, string>; values: Array<[number, string]> }> };
    const series = result.map((s) => ({
      metric: s.metric,
      points: s.values.flatMap(([t, text]): Array<[number, number]> => {
        const value = parseSampleValue(text);
        return value === null ? [] : [[t, value]];
      }),
    }));
    return {
      query: input.query,
      start,
      end,
      stepSeconds: input.stepSeconds,
      series,
      empty: series.length === 0,
      warnings,
    };
  }

  function rangeWindow(windowSeconds: number, end: PromTime | undefined, stepSeconds: number | undefined) {
    if (!(windowSeconds > 0)) {
      throw ApplicationFailure.nonRetryable(
        `windowSeconds must be positive, got ${windowSeconds}`,
        ErrorType.INVALID_INPUT,
      );
    }
    const to = end === undefined ? Date.now() / 1000 : toUnixSeconds(end);
    const step = stepSeconds ?? Math.max(1, Math.ceil(windowSeconds / DEFAULT_RANGE_POINTS));
    return { from: to - windowSeconds, to, step };
  }

  async function analyzeMemoryTrend(input: MemoryTrendInput): Promise<MemoryTrendResult> {
    if (!input.query && !input.selector) {
      throw ApplicationFailure.nonRetryable('analyzeMemoryTrend needs a query or a selector', ErrorType.INVALID_INPUT);
    }
    const query = input.query ?? `${OTLP_METRICS.residentMemory}{${input.selector}}`;
    const threshold = input.thresholdBytesPerSecond ?? LEAK_THRESHOLD_BYTES_PER_SECOND;
    const { from, to, step } = rangeWindow(input.windowSeconds, input.end, input.stepSeconds);
    const range = await queryPrometheusRange({ query, start: from, end: to, stepSeconds: step });

    const minSpan = input.minSpanSeconds ?? input.windowSeconds / 4;
    const series: MemorySeriesTrend[] = [];
    for (const s of range.series) {
      const fit = leastSquares(s.points);
      if (!fit) continue;
      const first = s.points[0]!;
      const last = s.points.at(-1)!;
      const tooShort = last[0] - first[0] < minSpan;
      series.push({
        metric: s.metric,
        samples: s.points.length,
        slopeBytesPerSecond: fit.slope,
        rSquared: fit.rSquared,
        firstBytes: first[1],
        lastBytes: last[1],
        spanSeconds: last[0] - first[0],
        leak: !tooShort && fit.slope > threshold,
        tooShort,
      });
    }
    series.sort((a, b) => b.slopeBytesPerSecond - a.slopeBytesPerSecond);
    const worst = series.find((s) => !s.tooShort);
    const base = { query, windowSeconds: input.windowSeconds, thresholdBytesPerSecond: threshold, series };
    if (!worst) {
      const points = range.series.reduce((n, s) => n + s.points.length, 0);
      return {
        ...base,
        slopeBytesPerSecond: 0,
        leak: false,
        samples: points,
        noData: true,
        verdict:
          points === 0
            ? `no data: ${query} returned no samples in the last ${input.windowSeconds}s`
            : `insufficient data: no series spans ${Math.round(minSpan)}s of the last ${input.windowSeconds}s ` +
              `(${series.length} short series)`,
      };
    }
    const leaking = series.filter((s) => s.leak).length;
    const who = Object.keys(worst.metric).length ? ` (${labelsText(worst.metric)})` : '';
    const figures =
      `${formatBytes(worst.slopeBytesPerSecond)}/s over ${Math.round(worst.spanSeconds)}s, ${worst.samples} samples, ` +
      `${formatBytes(worst.firstBytes)} → ${formatBytes(worst.lastBytes)}, r²=${worst.rSquared.toFixed(2)}`;
    const verdict = worst.leak
      ? `leak: memory grows ${figures}${who}, above ${formatBytes(threshold)}/s` +
        (leaking > 1 ? `; ${leaking} of ${series.length} series leak` : '')
      : `no leak: steepest growth ${figures}${who}, within ${formatBytes(threshold)}/s`;
    return {
      ...base,
      slopeBytesPerSecond: worst.slopeBytesPerSecond,
      leak: worst.leak,
      samples: worst.samples,
      noData: false,
      verdict,
      worst,
    };
  }

  /** Follows redirects by hand, so none can lead the check to a metadata service (common/network.ts). */
  async function fetchFollowingSafeRedirects(url: URL, signal: AbortSignal): Promise<Response> {
    let current = url;
    for (let hop = 0; ; hop++) {
      const res = await doFetch(current, { method: 'GET', redirect: 'manual', signal, headers: { accept: '*/*' } });
      const location = res.headers.get('location');
      if (res.status < 300 || res.status >= 400 || !location || hop >= MAX_HEALTH_REDIRECTS) return res;
      await res.body?.cancel().catch(() => undefined);
      const next = new URL(location, current);
      const forbidden =
        next.protocol === 'http:' || next.protocol === 'https:'
          ? await forbiddenDestination(next)
          : `${next.protocol} (not HTTP)`;
      if (forbidden) throw new Error(`redirected to ${next.origin}, which health checks may not reach: ${forbidden}`);
      current = next;
    }
  }

  async function checkHealth(input: HealthCheckInput): Promise<HealthCheckResult> {
    const timeoutMs = Math.min(Math.max(input.timeoutMs ?? DEFAULT_HEALTH_TIMEOUT_MS, 1), MAX_HEALTH_TIMEOUT_MS);
    let parsedUrl: URL;
    try {
      parsedUrl = new URL(input.url);
    } catch {
      throw ApplicationFailure.nonRetryable(`not a URL: ${JSON.stringify(input.url)}`, ErrorType.INVALID_INPUT);
    }
    if (parsedUrl.protocol !== 'http:' && parsedUrl.protocol !== 'https:') {
      throw ApplicationFailure.nonRetryable(
        `health checks speak HTTP(S), not ${parsedUrl.protocol}`,
        ErrorType.INVALID_INPUT,
      );
    }
    const forbidden = await forbiddenDestination(parsedUrl);
    if (forbidden)
      throw ApplicationFailure.nonRetryable(
        `health checks may not reach this host: ${forbidden}`,
        ErrorType.INVALID_INPUT,
      );
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    // One signal for the whole exchange: a server that sends headers then stalls the body is unhealthy too.
    const signal = AbortSignal.timeout(timeoutMs);
    let status: number | undefined;
    try {
      const res = await fetchFollowingSafeRedirects(parsedUrl, signal);
      status = res.status;
      const body = await readLimited(res, BODY_READ_LIMIT_BYTES);
      const latencyMs = elapsed();
      const bodyExcerpt = excerpt(body);
      const healthy = input.expectStatus !== undefined ? status === input.expectStatus : status >= 200 && status < 300;
      const expected = input.expectStatus !== undefined ? `expected ${input.expectStatus}` : 'expected 2xx';
      const verdict = healthy
        ? `healthy: HTTP ${status} in ${latencyMs} ms`
        : `unhealthy: HTTP ${status} (${expected}) in ${latencyMs} ms${bodyExcerpt ? `: ${bodyExcerpt.slice(0, 120)}` : ''}`;
      return { url: input.url, healthy, status, latencyMs, bodyExcerpt, verdict };
    } catch (err) {
      const latencyMs = elapsed();
      const timedOut = signal.aborted;
      const error = timedOut ? `timed out after ${timeoutMs} ms` : describeFetchError(err);
      const verdict = timedOut
        ? `unhealthy: no complete answer within ${timeoutMs} ms${status ? ` (HTTP ${status} then stalled)` : ''}`
        : `unreachable: ${error}`;
      return { url: input.url, healthy: false, status, latencyMs, bodyExcerpt: '', error, verdict };
    }
  }

  async function metricCheck(spec: MetricCheckSpec): Promise<DiagnosticCheck> {
    let result: InstantQueryResult;
    try {
      result = await queryPrometheus({ query: spec.query });
    } catch (err) {
      return { name: spec.name, status: 'warning', message: `could not evaluate: ${(err as Error).message}` };
    }
    const values = result.series.map((s) => s.value).filter((v): v is number => v !== null);
    if (values.length === 0) {
      return { name: spec.name, status: spec.whenNoData ?? 'warning', message: `no data for ${spec.query}` };
    }
    const worst = Math.max(...values);
    const worstSeries = result.series.find((s) => s.value === worst);
    const unit = spec.unit ? ` ${spec.unit}` : '';
    const shown = `${roundFigure(worst)}${unit}${worstSeries && Object.keys(worstSeries.metric).length ? ` (${labelsText(worstSeries.metric)})` : ''}`;
    const data = { value: worst, series: result.series.length, query: spec.query };
    if (spec.failAbove !== undefined && worst > spec.failAbove) {
      return { name: spec.name, status: 'failure', message: `${shown} above ${spec.failAbove}${unit}`, data };
    }
    if (spec.warnAbove !== undefined && worst > spec.warnAbove) {
      return { name: spec.name, status: 'warning', message: `${shown} above ${spec.warnAbove}${unit}`, data };
    }
    return { name: spec.name, status: 'success', message: `${shown} within limits`, data };
  }

  return {
    /**
     * GETs an HTTP endpoint and gives a verdict: healthy (2xx or `expectStatus`), unhealthy (other
     * status, stalled body, timeout) or unreachable. Changes nothing; never throws for an unhealthy
     * target — the verdict is the answer. Idempotent (a read). Timeout profile QUICK: its own
     * timeout is `timeoutMs` (default 5 s, at most 60 s), so a start-to-close of timeoutMs + 5 s suffices.
     */
    checkHealth,

    /**
     * Instant PromQL query. Changes nothing; idempotent. Prometheus unreachable or 5xx → transient
     * error (retried); a query it rejects (400/422) → INVALID_INPUT; no PROMETHEUS_URL → NOT_CONFIGURED.
     * An empty result is `empty: true`, not an error. Timeout profile REMOTE_CALL (15 s per request).
     */
    queryPrometheus,

    /**
     * Range PromQL query over [start, end] every `stepSeconds`. Same errors and profile as
     * `queryPrometheus`; more than 11,000 points per series → INVALID_INPUT before asking.
     */
    queryPrometheusRange,

    /**
     * The leak verdict of 002 case 2: least-squares slope of resident memory over the window, per
     * series; the steepest series above `thresholdBytesPerSecond` (1 MB/s) is a leak. Returns the
     * figures behind the verdict; no samples → `noData` with a "no data" verdict. Changes nothing;
     * idempotent for a fixed `end`. Timeout profile REMOTE_CALL.
     */
    analyzeMemoryTrend,

    /**
     * Runs health checks, metric threshold checks and memory trends concurrently and assembles 001's
     * DiagnosticReport with any checks the caller already decided. A check that cannot be evaluated
     * (Prometheus down, no data) is a warning inside the report, so one missing source never hides the
     * rest. Changes nothing; idempotent. Timeout profile REMOTE_CALL (checks run in parallel).
     */
    async runDiagnosticReport(input: DiagnosticReportInput): Promise<DiagnosticReport> {
      const health = (input.healthChecks ?? []).map(async (spec): Promise<DiagnosticCheck> => {
        const result = await checkHealth(spec);
        const data = { url: result.url, status: result.status, latencyMs: result.latencyMs };
        if (!result.healthy) return { name: spec.name, status: 'failure', message: result.verdict, data };
        if (spec.slowMs !== undefined && result.latencyMs > spec.slowMs) {
          return {
            name: spec.name,
            status: 'warning',
            message: `${result.verdict}, slower than ${spec.slowMs} ms`,
            data,
          };
        }
        return { name: spec.name, status: 'success', message: result.verdict, data };
      });
      const metrics = (input.metricChecks ?? []).map(metricCheck);
      const memory = (input.memoryTrends ?? []).map(async ({ name, ...spec }): Promise<DiagnosticCheck> => {
        try {
          const trend = await analyzeMemoryTrend(spec);
          const status: CheckStatus = trend.leak ? 'failure' : trend.noData ? 'warning' : 'success';
          const data = { slopeBytesPerSecond: trend.slopeBytesPerSecond, samples: trend.samples, query: trend.query };
          return { name, status, message: trend.verdict, data };
        } catch (err) {
          return { name, status: 'warning', message: `could not evaluate: ${(err as Error).message}` };
        }
      });
      const evaluated = await Promise.all([...health, ...metrics, ...memory]);
      return buildDiagnosticReport([...(input.checks ?? []), ...evaluated]);
    },

    /**
     * Root-cause hints for an avalanche (000 §6.1, 004 §5): over the window, which services' p99
     * latency or error rate left its baseline first, and when request volume jumped. Three range
     * queries over all services at once. Changes nothing; idempotent for a fixed `end`. Timeout
     * profile REMOTE_CALL.
     */
    async findAvalancheRootCauseHints(input: AvalancheHintsInput): Promise<AvalancheHints> {
      if (input.services.length === 0) {
        throw ApplicationFailure.nonRetryable(
          'findAvalancheRootCauseHints needs at least one service',
          ErrorType.INVALID_INPUT,
        );
      }
      const label = input.serviceLabel ?? 'service';
      const rate = input.rateWindow ?? '5m';
      const factor = input.jumpFactor ?? 2;
      const { from, to, step } = rangeWindow(input.windowSeconds, input.end, input.stepSeconds);
      const matchers = [`${label}=~${promString(regexAlternation(input.services))}`];
      if (input.namespace) matchers.push(`namespace=${promString(input.namespace)}`);
      const sel = matchers.join(',');
      const range = (query: string) => queryPrometheusRange({ query, start: from, end: to, stepSeconds: step });
      const [latency, errors, requests, volume] = await Promise.all([
        range(`max by (${label}) (${OTLP_METRICS.latencyP99}{quantile="0.99",${sel}})`),
        range(`sum by (${label}) (rate(${OTLP_METRICS.errors}{${sel}}[${rate}]))`),
        range(`sum by (${label}) (rate(${OTLP_METRICS.requests}{${sel}}[${rate}]))`),
        range(`sum(rate(${OTLP_METRICS.requests}{${sel}}[${rate}]))`),
      ]);
      // Absolute floors keep noise on a near-zero baseline from counting as a jump.
      const jumpOf = (result: RangeQueryResult, service: string | undefined, minDelta: number): SignalJump => {
        const series =
          service === undefined ? result.series[0] : result.series.find((s) => s.metric[label] === service);
        const jump = series ? detectJump(series.points, factor, minDelta) : undefined;
        if (!jump) return { baseline: null, peak: null };
        return {
          baseline: jump.baseline,
          peak: jump.peak,
          ...(jump.jumpedAt !== undefined && { jumpedAt: iso(jump.jumpedAt) }),
        };
      };
      const services = input.services.map((service): ServiceAvalancheSignals => {
        const latencyP99 = jumpOf(latency, service, 0.05);
        const errorRate = jumpOf(errors, service, 0.1);
        const requestRate = jumpOf(requests, service, 1);
        const jumps = [latencyP99.jumpedAt, errorRate.jumpedAt].filter((t): t is string => t !== undefined).sort();
        return { service, latencyP99, errorRate, requestRate, ...(jumps[0] && { firstJumpAt: jumps[0] }) };
      });
      const requestVolume = jumpOf(volume, undefined, 1);
      const jumped = services.filter((s) => s.firstJumpAt).sort((a, b) => a.firstJumpAt!.localeCompare(b.firstJumpAt!));
      const earliest = jumped[0]?.firstJumpAt;
      const firstToJump = jumped.filter((s) => s.firstJumpAt === earliest).map((s) => s.service);
      const noData = latency.empty && errors.empty && requests.empty;

      const hints: string[] = [];
      for (const s of jumped) {
        const parts: string[] = [];
        if (s.latencyP99.jumpedAt) {
          parts.push(
            `p99 latency ${roundFigure(s.latencyP99.baseline!)}s → ${roundFigure(s.latencyP99.peak!)}s from ${s.latencyP99.jumpedAt}`,
          );
        }
        if (s.errorRate.jumpedAt) {
          parts.push(
            `error rate ${roundFigure(s.errorRate.baseline!)}/s → ${roundFigure(s.errorRate.peak!)}/s from ${s.errorRate.jumpedAt}`,
          );
        }
        hints.push(`${s.service}: ${parts.join('; ')}`);
      }
      if (requestVolume.jumpedAt) {
        const lead =
          earliest === undefined
            ? ''
            : requestVolume.jumpedAt < earliest
              ? `, ${Math.round((Date.parse(earliest) - Date.parse(requestVolume.jumpedAt)) / 1000)}s before the first service degraded (a traffic surge or a retry storm)`
              : requestVolume.jumpedAt > earliest
                ? `, after ${firstToJump.join(', ')} degraded (retries amplifying the failure)`
                : ', as the first service degraded';
        hints.push(
          `request volume ${roundFigure(requestVolume.baseline!)}/s → ${roundFigure(requestVolume.peak!)}/s from ${requestVolume.jumpedAt}${lead}`,
        );
      }
      const silent = services.filter((s) => !s.firstJumpAt && s.latencyP99.peak === null && s.errorRate.peak === null);
      if (silent.length) hints.push(`no latency or error data for ${silent.map((s) => s.service).join(', ')}`);

      const verdict = noData
        ? `no data: no latency, error or request metrics for ${input.services.join(', ')} in the last ${input.windowSeconds}s`
        : jumped.length === 0
          ? `no jump: latency and error rates of ${input.services.join(', ')} stayed at their baselines in the window`
          : `${firstToJump.join(', ')} degraded first at ${earliest}; order ${jumped.map((s) => s.service).join(' → ')}` +
            (requestVolume.jumpedAt ? `; request volume jumped at ${requestVolume.jumpedAt}` : '');
      return {
        from: iso(from),
        to: iso(to),
        stepSeconds: step,
        services,
        firstToJump,
        jumpOrder: jumped.map((s) => s.service),
        requestVolume,
        noData,
        hints,
        verdict,
      };
    },
  };
}

export type DiagnosticsActivities = ReturnType<typeof createDiagnosticsActivities>;

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

function labelsText(metric: Record<string, string>): string {
  return Object.entries(metric)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
}

function roundFigure(value: number): string {
  if (value === 0) return '0';
  const abs = Math.abs(value);
  return abs >= 100 ? value.toFixed(0) : abs >= 1 ? value.toFixed(2) : value.toPrecision(2);
}

async function readLimited(res: Response, limit: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return new TextDecoder().decode(Buffer.concat(chunks).subarray(0, limit));
}

function excerpt(body: string): string {
  const flat = body.replace(/\s+/g, ' ').trim();
  return flat.length > BODY_EXCERPT_CHARS ? `${flat.slice(0, BODY_EXCERPT_CHARS)}…` : flat;
}

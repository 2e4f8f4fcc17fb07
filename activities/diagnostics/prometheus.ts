/**
 * A Prometheus HTTP API client: instant and range queries, with the API's own errors mapped onto
 * the catalogue (unreachable or 5xx → transient; a query it rejects → INVALID_INPUT; no
 * PROMETHEUS_URL or not the Prometheus API → NOT_CONFIGURED), plus PromQL quoting.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { ErrorType } from '../../common/errors';
import { describeFetchError } from './health';
import type { InstantQueryResult, InstantSample, PromTime, RangeQueryInput, RangeQueryResult } from './types';

export interface DiagnosticsDeps {
  /** Base URL of the Prometheus HTTP API (PROMETHEUS_URL), e.g. http://prometheus:9090 */
  prometheusUrl?: string;
  fetch?: typeof fetch;
  /** Per-request timeout for Prometheus calls; the query itself is given one second less. */
  prometheusTimeoutMs?: number;
  /** For the checks that read a Deployment's pod template (checkTraceExportSettings); NOT_CONFIGURED without. */
  kubeConfig?: KubeConfig;
}

const DEFAULT_PROMETHEUS_TIMEOUT_MS = 15_000;
/** Prometheus refuses more than 11,000 points per series in a range query. */
const MAX_RANGE_POINTS = 11_000;
const DEFAULT_RANGE_POINTS = 240;

/** Quotes a PromQL label value. */
export function promString(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

export function regexAlternation(values: string[]): string {
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

export const iso = (unixSeconds: number) => new Date(Math.round(unixSeconds * 1000)).toISOString();

function parseSampleValue(text: string): number | null {
  const value = Number(text);
  return Number.isFinite(value) ? value : null;
}

export type PrometheusClient = ReturnType<typeof createPrometheusClient>;

export function createPrometheusClient(deps: DiagnosticsDeps) {
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

  return { queryPrometheus, queryPrometheusRange, rangeWindow };
}

/** 001's DiagnosticReport: health checks, metric thresholds and memory trends, evaluated together. */
import { buildDiagnosticReport, labelsText, roundFigure } from './analysis';
import type { PrometheusClient } from './prometheus';
import type {
  CheckStatus,
  DiagnosticCheck,
  DiagnosticReport,
  DiagnosticReportInput,
  HealthCheckInput,
  HealthCheckResult,
  InstantQueryResult,
  MemoryTrendInput,
  MemoryTrendResult,
  MetricCheckSpec,
} from './types';

export function createDiagnosticReport(deps: {
  checkHealth: (input: HealthCheckInput) => Promise<HealthCheckResult>;
  queryPrometheus: PrometheusClient['queryPrometheus'];
  analyzeMemoryTrend: (input: MemoryTrendInput) => Promise<MemoryTrendResult>;
}) {
  const { checkHealth, queryPrometheus, analyzeMemoryTrend } = deps;

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

  return async function runDiagnosticReport(input: DiagnosticReportInput): Promise<DiagnosticReport> {
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
  };
}

/**
 * Diagnostics activities: the runbooks' eyes. HTTP health checks, the memory-leak verdict of 002
 * case 2, root-cause hints for an avalanche (000 §6.1, 004 §5) and the verification window's
 * error rate and p99 per service — each built on the Prometheus client (prometheus.ts), which is
 * not itself an activity: every query a runbook asks has a verdict around it.
 *
 * Everything here only reads. An unhealthy target, an empty result or a series without a jump is an
 * answer, not an error: activities throw only when they could not ask the question (Prometheus
 * unreachable → transient; a query Prometheus rejects or missing configuration → permanent).
 *
 * Files: health.ts (HTTP checks), prometheus.ts (the Prometheus API client), analysis.ts (pure
 * statistics and thresholds), memory.ts, avalanche.ts and recovery.ts (the verdicts built on them),
 * trace-loss.ts (seed 004 chapter 1's five checks: the pod template's SDK settings and the
 * collector's own drop counters).
 */
import { createAvalancheHints } from './avalanche';
import { createHealthCheck } from './health';
import { createMemoryTrend } from './memory';
import { createPrometheusClient, type DiagnosticsDeps } from './prometheus';
import { createRecoveryCheck } from './recovery';
import { createTraceLossChecks } from './trace-loss';
import { createKubeApi } from '../kubernetes/api';

export * from './types';
export type { RecoveryCheck, RecoveryCheckInput, ServiceRecovery } from './recovery';
export type { DiagnosticsDeps } from './prometheus';
export { LEAK_THRESHOLD_BYTES_PER_SECOND, OTLP_METRICS, detectJump, formatBytes, leastSquares } from './analysis';
export { createPrometheusClient, promString } from './prometheus';
export { collectorDropQueries, judgeCollectorDrops } from './collector-drops';
export { TRACE_LOSS_DEFAULTS } from './trace-loss-findings';
export { judgeTraceSettings } from './trace-settings';

export function createDiagnosticsActivities(deps: DiagnosticsDeps) {
  const prometheus = createPrometheusClient(deps);
  const checkHealth = createHealthCheck(deps.fetch ?? fetch);
  const analyzeMemoryTrend = createMemoryTrend(prometheus);
  const traceLoss = createTraceLossChecks(prometheus, deps.kubeConfig ? createKubeApi(deps.kubeConfig) : undefined);
  return {
    /**
     * GETs an HTTP endpoint and gives a verdict: healthy (2xx or `expectStatus`), unhealthy (other
     * status, stalled body, timeout) or unreachable. Changes nothing; never throws for an unhealthy
     * target — the verdict is the answer. Idempotent (a read). Timeout profile QUICK: its own
     * timeout is `timeoutMs` (default 5 s, at most 60 s), so a start-to-close of timeoutMs + 5 s suffices.
     */
    checkHealth,

    /**
     * The leak verdict of 002 case 2: least-squares slope of resident memory over the window, per
     * series; the steepest series above `thresholdBytesPerSecond` (1 MB/s) is a leak. Returns the
     * figures behind the verdict; no samples → `noData` with a "no data" verdict. Changes nothing;
     * idempotent for a fixed `end`. Timeout profile REMOTE_CALL.
     */
    analyzeMemoryTrend,

    /**
     * Root-cause hints for an avalanche (000 §6.1, 004 §5): over the window, which services' p99
     * latency or error rate left its baseline first, and when request volume jumped. Three range
     * queries over all services at once. Changes nothing; idempotent for a fixed `end`. Timeout
     * profile REMOTE_CALL.
     */
    findAvalancheRootCauseHints: createAvalancheHints(prometheus),

    /**
     * Each service's error rate and p99 latency now against the given limits: the verdict of a
     * verification window. No series for a service counts as recovered (nothing says otherwise);
     * `noData` says when nothing at all was found. Changes nothing; idempotent. Timeout profile QUICK.
     */
    checkServiceRecovery: createRecoveryCheck(prometheus),

    /**
     * One instant PromQL query, as asked (runbook files' `promql` step): the series and their
     * values; an empty result is an answer. Changes nothing; idempotent. Timeout profile QUICK.
     */
    queryPrometheus: prometheus.queryPrometheus,

    /**
     * Seed 004 chapter 1, checks 1–4, on a Deployment's pod template: the sampler
     * (OTEL_TRACES_SAMPLER/_ARG below `minSamplerRatio`, 0.5), propagation (OTEL_PROPAGATORS
     * without tracecontext), the batch span processor (OTEL_BSP_MAX_QUEUE_SIZE < 4096, schedule
     * delay > 1 s, export timeout > 5 s, OTEL_TRACES_EXPORTER=none) and graceful shutdown (a
     * preStop hook; a grace period covering it plus one export). One finding per setting (ok,
     * finding, or unknown when set from a reference), and `mitigationEnv`: the exporter variables a
     * temporary setDeploymentEnv would set. Reads the Deployment only; idempotent. Timeout profile QUICK.
     */
    checkTraceExportSettings: traceLoss.checkTraceExportSettings,

    /**
     * Seed 004 chapter 1, check 5: the collector's own counters over the window —
     * otelcol_receiver_refused_spans, otelcol_processor_dropped_spans,
     * otelcol_exporter_send_failed_spans, otelcol_exporter_enqueue_failed_spans — and each sending
     * queue's size against its capacity, scoped by a selector and the pipeline's component names.
     * No series at all → `noData`, every finding unknown. Changes nothing; idempotent for a fixed
     * `end`. Timeout profile QUICK.
     */
    checkCollectorDrops: traceLoss.checkCollectorDrops,
  };
}

export type DiagnosticsActivities = ReturnType<typeof createDiagnosticsActivities>;

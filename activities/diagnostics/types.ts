/** What the diagnostics activities take and return: plain JSON, so it travels in Temporal payloads. */

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

/** The five checks of seed 004 chapter 1 for a service whose traces go missing. */
export const TRACE_LOSS_CHECKS = ['sampler', 'propagation', 'batchExporter', 'shutdown', 'collectorDrops'] as const;
export type TraceLossCheck = (typeof TRACE_LOSS_CHECKS)[number];

/**
 * One setting or counter judged. `unknown` when it cannot be judged from here (a variable set
 * from a Secret/ConfigMap reference, a remote sampler, a collector Prometheus has no series of).
 */
export interface TraceLossFinding {
  check: TraceLossCheck;
  /** The env variable, pod-spec field or collector metric judged, e.g. `OTEL_BSP_MAX_QUEUE_SIZE`. */
  setting: string;
  status: 'ok' | 'finding' | 'unknown';
  /** What is there, as text (`unset (SDK default 2048)`); at most 120 characters. */
  observed: string;
  /** The figure behind `observed` when there is one (a ratio, a count, milliseconds, seconds). */
  value: number | null;
  recommended: string;
  message: string;
}

export interface TraceSettingsInput {
  namespace: string;
  deployment: string;
  /** The container running the instrumented process; kubectl's default container otherwise. */
  container?: string;
  /** Root-span sampling below this ratio is a finding; seed 004 suggests 0.5 in production. */
  minSamplerRatio?: number;
  /** OTEL_BSP_MAX_QUEUE_SIZE below this is a finding (seed 004: 4096). */
  minQueueSize?: number;
  /** OTEL_BSP_SCHEDULE_DELAY above this is a finding (seed 004: 1 s). */
  maxScheduleDelayMs?: number;
  /** OTEL_BSP_EXPORT_TIMEOUT above this is a finding (seed 004: 5 s). */
  maxExportTimeoutMs?: number;
}

export interface TraceSettingsReport {
  namespace: string;
  deployment: string;
  container: string;
  /** Checks sampler, propagation, batchExporter and shutdown, one entry per setting, in that order. */
  findings: TraceLossFinding[];
  /** How many entries have status `finding`. */
  found: number;
  /**
   * The batch exporter variables a temporary mitigation would set (setDeploymentEnv), only those
   * found wanting, at the recommended values; empty when the exporter settings are fine.
   */
  mitigationEnv: Record<string, string>;
  verdict: string;
}

export interface CollectorDropsInput {
  /** Label matchers every collector series must carry, e.g. `job="otelcol"` or `namespace="observability"`. */
  selector?: string;
  /** Receiver, exporter and processor names (`otlp/dropping`) the service's spans pass; all by default. */
  receivers?: string[];
  exporters?: string[];
  processors?: string[];
  /** Look-back; 300 s (5m) by default, at most a day. */
  windowSeconds?: number;
  end?: PromTime;
  /** A sending queue at or above this share of its capacity is a finding; 0.8 by default. */
  queueFullRatio?: number;
}

export interface CollectorComponentFigure {
  /** `receiver`, `exporter` or `processor`. */
  kind: string;
  name: string;
  metric: string;
  value: number;
}

export interface CollectorDropsReport {
  from: string;
  to: string;
  /** One entry per counter and one for the sending queues (check `collectorDrops`). */
  findings: TraceLossFinding[];
  found: number;
  /** Spans the receivers accepted in the window (context for the losses). */
  acceptedSpans: number;
  /**
   * The four counters together over the window: an upper bound, since a span whose enqueue failed
   * and was refused back to its sender counts in both.
   */
  lostSpans: number;
  /** The components behind the losses and the fullest queues, largest first, at most 10. */
  components: CollectorComponentFigure[];
  /** No collector series matched at all: nothing says spans are lost, nothing says they are not. */
  noData: boolean;
  verdict: string;
}

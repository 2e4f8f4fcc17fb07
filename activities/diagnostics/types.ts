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

/**
 * The statistics behind the verdicts — least squares, jump detection — and
 * the queries and thresholds the source documents use. Pure: tests feed them series directly.
 */

/** The metrics the source documents query (002 cases 1 and 2, 003's collector metric list). */
export const OTLP_METRICS = {
  latencyP99: 'otlp_request_duration_seconds',
  errors: 'otlp_errors_total',
  requests: 'otlp_requests_total',
  residentMemory: 'process_resident_memory_bytes',
} as const;

/** 002 case 2: resident memory growing faster than 1 MB/s (a linear fit) is a leak. */
export const LEAK_THRESHOLD_BYTES_PER_SECOND = 1_000_000;

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

/** The memory-leak verdict of 002 case 2: least-squares slope of resident memory per series. */
import { ApplicationFailure } from '@temporalio/common';
import { ErrorType } from '../../common/errors';
import { LEAK_THRESHOLD_BYTES_PER_SECOND, OTLP_METRICS, formatBytes, labelsText, leastSquares } from './analysis';
import type { PrometheusClient } from './prometheus';
import type { MemorySeriesTrend, MemoryTrendInput, MemoryTrendResult } from './types';

export function createMemoryTrend({ queryPrometheusRange, rangeWindow }: PrometheusClient) {
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

  return analyzeMemoryTrend;
}

/**
 * Root-cause hints for an avalanche (000 §6.1, 004 §5): which services' p99 latency or error rate
 * left its baseline first, and when request volume jumped.
 */
import { ApplicationFailure } from '@temporalio/common';
import { ErrorType } from '../../common/errors';
import { OTLP_METRICS, detectJump, roundFigure } from './analysis';
import { iso, promString, regexAlternation, type PrometheusClient } from './prometheus';
import type {
  AvalancheHints,
  AvalancheHintsInput,
  RangeQueryResult,
  ServiceAvalancheSignals,
  SignalJump,
} from './types';

export function createAvalancheHints({ queryPrometheusRange, rangeWindow }: PrometheusClient) {
  return async function findAvalancheRootCauseHints(input: AvalancheHintsInput): Promise<AvalancheHints> {
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
      const series = service === undefined ? result.series[0] : result.series.find((s) => s.metric[label] === service);
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
  };
}

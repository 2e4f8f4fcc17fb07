/**
 * Whether services are back under their thresholds after a mitigation: each service's error rate
 * and p99 latency now, from Prometheus, against the policy's limits. The verification window of
 * avalanche mitigation asks this once the window has passed.
 */
import { ApplicationFailure } from '@temporalio/common';
import { ErrorType } from '../../common/errors';
import { OTLP_METRICS, roundFigure } from './analysis';
import { promString, regexAlternation, type PrometheusClient } from './prometheus';

export interface RecoveryCheckInput {
  services: string[];
  namespace?: string;
  maxErrorRatePerSecond: number;
  maxP99Seconds: number;
  serviceLabel?: string;
  /** Window of the error-rate `rate()`; default 1m, so a recovery shows within the verification window. */
  rateWindow?: string;
}

export interface ServiceRecovery {
  service: string;
  errorRatePerSecond: number | null;
  p99Seconds: number | null;
  recovered: boolean;
  /** What is still wrong, when not recovered. */
  problems: string[];
}

export interface RecoveryCheck {
  recovered: boolean;
  services: ServiceRecovery[];
  /** No series at all for any service: nothing to judge by. */
  noData: boolean;
}

export function createRecoveryCheck({ queryPrometheus }: Pick<PrometheusClient, 'queryPrometheus'>) {
  return async function checkServiceRecovery(input: RecoveryCheckInput): Promise<RecoveryCheck> {
    if (input.services.length === 0) {
      throw ApplicationFailure.nonRetryable('checkServiceRecovery needs at least one service', ErrorType.INVALID_INPUT);
    }
    const label = input.serviceLabel ?? 'service';
    const matchers = [`${label}=~${promString(regexAlternation(input.services))}`];
    if (input.namespace) matchers.push(`namespace=${promString(input.namespace)}`);
    const sel = matchers.join(',');
    const [errors, latency] = await Promise.all([
      queryPrometheus({
        query: `sum by (${label}) (rate(${OTLP_METRICS.errors}{${sel}}[${input.rateWindow ?? '1m'}]))`,
      }),
      queryPrometheus({ query: `max by (${label}) (${OTLP_METRICS.latencyP99}{quantile="0.99",${sel}})` }),
    ]);
    const valueOf = (result: typeof errors, service: string) =>
      result.series.find((s) => s.metric[label] === service)?.value ?? null;
    const services = input.services.map((service): ServiceRecovery => {
      const errorRatePerSecond = valueOf(errors, service);
      const p99Seconds = valueOf(latency, service);
      const problems: string[] = [];
      if (errorRatePerSecond !== null && errorRatePerSecond > input.maxErrorRatePerSecond) {
        problems.push(`error rate ${roundFigure(errorRatePerSecond)}/s > ${input.maxErrorRatePerSecond}/s`);
      }
      if (p99Seconds !== null && p99Seconds > input.maxP99Seconds) {
        problems.push(`p99 ${roundFigure(p99Seconds)}s > ${input.maxP99Seconds}s`);
      }
      return { service, errorRatePerSecond, p99Seconds, recovered: problems.length === 0, problems };
    });
    return { recovered: services.every((s) => s.recovered), services, noData: errors.empty && latency.empty };
  };
}

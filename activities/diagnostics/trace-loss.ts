/**
 * Seed 004 chapter 1: five checks for a service whose traces go missing, as activities. Four read
 * the Deployment's pod template — the SDK's environment (sampler, propagators, batch span
 * processor) and graceful shutdown (preStop, terminationGracePeriodSeconds): trace-settings.ts —
 * and one asks Prometheus for the collector's own drop counters: collector-drops.ts. The judging
 * is pure (judgeTraceSettings, judgeCollectorDrops) so tests feed it objects; the activities only
 * fetch.
 */
import { ApplicationFailure } from '@temporalio/common';
import { ErrorType } from '../../common/errors';
import type { KubeApi } from '../kubernetes/api';
import { COUNTERS, collectorDropQueries, judgeCollectorDrops, type CollectorQueryResults } from './collector-drops';
import type { PrometheusClient } from './prometheus';
import { TRACE_LOSS_DEFAULTS } from './trace-loss-findings';
import { judgeTraceSettings } from './trace-settings';
import type { CollectorDropsInput, CollectorDropsReport, TraceSettingsInput, TraceSettingsReport } from './types';

const MAX_WINDOW_SECONDS = 86_400;

export function createTraceLossChecks(prometheus: PrometheusClient, kube: KubeApi | undefined) {
  return {
    async checkTraceExportSettings(input: TraceSettingsInput): Promise<TraceSettingsReport> {
      if (!kube) {
        throw ApplicationFailure.nonRetryable(
          'checkTraceExportSettings needs a kubeconfig (the diagnostics were built without one)',
          ErrorType.NOT_CONFIGURED,
        );
      }
      const deployment = await kube.readDeployment(input);
      return judgeTraceSettings(deployment, input);
    },

    async checkCollectorDrops(input: CollectorDropsInput): Promise<CollectorDropsReport> {
      const windowSeconds = input.windowSeconds ?? TRACE_LOSS_DEFAULTS.windowSeconds;
      if (!(windowSeconds > 0 && windowSeconds <= MAX_WINDOW_SECONDS)) {
        throw ApplicationFailure.nonRetryable(
          `windowSeconds must be in (0, ${MAX_WINDOW_SECONDS}], got ${windowSeconds}`,
          ErrorType.INVALID_INPUT,
        );
      }
      const { from, to } = prometheus.rangeWindow(windowSeconds, input.end, undefined);
      const queries = collectorDropQueries(input, Math.round(windowSeconds));
      const ask = (query: string) => prometheus.queryPrometheus({ query, time: to });
      const [accepted, queueSize, queueCapacity, ...counted] = await Promise.all([
        ask(queries.accepted),
        ask(queries.queueSize),
        ask(queries.queueCapacity),
        ...COUNTERS.map((c) => ask(queries.counters[c.metric])),
      ]);
      const counters = Object.fromEntries(
        COUNTERS.map((c, i) => [c.metric, counted[i]!]),
      ) as CollectorQueryResults['counters'];
      return judgeCollectorDrops(
        { accepted: accepted!, queueSize: queueSize!, queueCapacity: queueCapacity!, counters },
        { from, to, queueFullRatio: input.queueFullRatio ?? TRACE_LOSS_DEFAULTS.queueFullRatio },
      );
    },
  };
}

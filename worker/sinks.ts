/**
 * The worker end of the workflows' sinks. `access.refused` counts a refusal a workflow saw (the
 * CLI's, the kernel's own) into `firebreak_access_refusals_total` — the counter the ingress of the
 * same `firebreak start` serves on /metrics. Not called on replay, so a history read again counts
 * nothing twice; the labels are checked again here, whatever the workflow code passed. `incidents`
 * feeds the incident metrics of the same /metrics (domain/engine-metrics.ts): counters and
 * histograms only from new events, the pending-restore figure on replay too (it is a latest value
 * per incident, not a count). `exporter` takes the spans of the workflow interceptors
 * (worker/tracing.ts).
 */
import type { InjectedSinks } from '@temporalio/worker';
import type { Counter } from 'prom-client';
import type { Tracing } from '../config/telemetry';
import { metricLabels, type IncidentMetricsSinks } from '../domain/engine-metrics';
import { refusalLabels, type FirebreakSinks } from '../domain/refusals';
import type { IngressMetrics } from '../ingress/metrics';
import { tracingSinks } from './tracing';

type IncidentMetricsSink = Pick<
  IngressMetrics,
  'gateWait' | 'escalations' | 'timeToAcknowledge' | 'timeToClose' | 'setPendingRestore'
>;

export function createSinks(
  refusals?: Counter<'action' | 'channel'>,
  tracing?: Tracing,
  incidents?: IncidentMetricsSink,
): InjectedSinks<FirebreakSinks & IncidentMetricsSinks> {
  const { runbook, severity, status, decision, channel } = metricLabels;
  const seconds = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : 0);
  return {
    // Every bundle carries the tracing workflow interceptors: their sink is always there.
    ...tracingSinks(tracing),
    access: {
      refused: {
        fn: (_info, labels) => {
          const { action, channel } = refusalLabels({
            action: labels?.action,
            channel: labels?.channel,
            actor: { id: '' },
          });
          refusals?.inc({ action, channel });
        },
        callDuringReplay: false,
      },
    },
    incidents: {
      acknowledged: {
        fn: (_info, e) =>
          incidents?.timeToAcknowledge.observe(
            { runbook: runbook(e?.runbook), severity: severity(e?.severity) },
            seconds(e?.seconds),
          ),
        callDuringReplay: false,
      },
      closed: {
        fn: (_info, e) =>
          incidents?.timeToClose.observe(
            { runbook: runbook(e?.runbook), severity: severity(e?.severity), status: status(e?.status) },
            seconds(e?.seconds),
          ),
        callDuringReplay: false,
      },
      escalated: {
        fn: (_info, e) =>
          incidents?.escalations.inc({
            channel: channel(e?.channel),
            runbook: runbook(e?.runbook),
            severity: severity(e?.severity),
          }),
        callDuringReplay: false,
      },
      gateDecided: {
        fn: (_info, e) =>
          incidents?.gateWait.observe(
            { decision: decision(e?.decision), runbook: runbook(e?.runbook) },
            seconds(e?.seconds),
          ),
        callDuringReplay: false,
      },
      pendingRestore: {
        // A worker that restarts learns each incident's figure again as the incident replays.
        fn: (info, e) =>
          incidents?.setPendingRestore(info.workflowId, runbook(e?.runbook), Math.max(0, Number(e?.count) || 0)),
        callDuringReplay: true,
      },
    },
  };
}

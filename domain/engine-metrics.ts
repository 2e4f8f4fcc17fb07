/**
 * The incident events `/metrics` counts, as the workflows report them through the `incidents`
 * sink (worker/sinks.ts feeds ingress/metrics.ts): acknowledgements and closes (MTTA, MTTR), gate
 * decisions (how long each waited), escalations, and how many mitigations an incident holds that
 * are still to be restored. Every label comes from a fixed set — runbook, severity, status,
 * decision, channel — checked again on the worker's side, so the series stay bounded whatever an
 * incident carries. Sandbox-safe: imported by workflows and the worker.
 */
import type { Sinks } from '@temporalio/workflow';
import { CLOSED_STATUSES, RUNBOOK_IDS, SEVERITIES } from '../common/types';

export const GATE_DECISIONS = ['approved', 'rejected', 'timed_out'] as const;
export const ESCALATION_CHANNELS = ['slack', 'pagerduty', 'email'] as const;

export interface IncidentLabels {
  runbook: string;
  severity: string;
}

/** The worker end of the `incidents` sink. */
export interface IncidentMetricsSinks extends Sinks {
  incidents: {
    /** First acknowledgement, `seconds` after the incident opened. */
    acknowledged(event: IncidentLabels & { seconds: number }): void;
    /** The incident closed (resolved, failed, cancelled), `seconds` after it opened. */
    closed(event: IncidentLabels & { status: string; seconds: number }): void;
    /** A tier was paged (not a rehearsal's would-be page). */
    escalated(event: IncidentLabels & { channel: string }): void;
    /** A gate was decided or ended, `seconds` after it was asked. */
    gateDecided(event: { runbook: string; decision: string; seconds: number }): void;
    /**
     * The mitigations the incident holds that are still to be restored, each time the number
     * changes (0 once it closes). Called on replay too: the worker keeps the latest per incident.
     */
    pendingRestore(event: { runbook: string; count: number }): void;
  };
}

const oneOf = <T extends string>(values: readonly T[], value: unknown): T | 'other' =>
  (values as readonly unknown[]).includes(value) ? (value as T) : 'other';

/** The bounded label values: anything unknown becomes `other`. */
export const metricLabels = {
  runbook: (value: unknown) => oneOf(RUNBOOK_IDS, value),
  severity: (value: unknown) => oneOf(SEVERITIES, value),
  status: (value: unknown) => oneOf(CLOSED_STATUSES, value),
  decision: (value: unknown) => oneOf(GATE_DECISIONS, value),
  channel: (value: unknown) => oneOf(ESCALATION_CHANNELS, value),
};

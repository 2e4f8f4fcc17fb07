/**
 * What starts an incident and the policy it runs under. The policy is resolved from configuration
 * by whoever starts the workflow (ingress, CLI) and passed in, so the workflow stays deterministic
 * and a config change never alters an incident already running.
 */
import type { AccessPolicy } from './access';
import type { Actor, RunbookName, Severity, Target, Trigger } from './types';

export interface EscalationTier {
  /** Display name: "on-call", "PagerDuty", "incident commander". */
  name: string;
  kind: 'slack' | 'pagerduty' | 'email';
  /** Slack user ids (U...) or user-group ids (S...) to mention for slack tiers. */
  mentions: string[];
  /** Addresses an email tier pages. */
  to?: string[];
}

export interface ApproverPolicy {
  /** Slack user ids or `cli:<name>` allowed to decide gates. Empty users and groups = anyone. */
  users: string[];
  /** Slack user-group ids whose members may decide gates. */
  groups: string[];
}

/** Deadlines after acknowledgement (seed 003: acknowledge, investigate, resolve), measured from the acknowledgement. */
export interface ResponseDeadlines {
  /** A first update: a decision, a resolution or a cancel by someone, or the runbook mitigating. */
  firstUpdateMs: number;
  /** Status mitigated (or the incident closed). */
  mitigateMs: number;
  /** The incident closed. */
  resolveMs: number;
}

export interface ResponsePlan {
  deadlines: Record<Severity, ResponseDeadlines>;
  /** After a missed deadline's reminder, how long before the next tier is paged. */
  graceMs: number;
}

/** Seed 003's P0 plan (investigate 300 s, resolve 1800 s; mitigate halfway), scaled like the ack deadlines. */
const P0_PLAN: ResponseDeadlines = { firstUpdateMs: 300_000, mitigateMs: 900_000, resolveMs: 1_800_000 };
const scalePlan = (factor: number): ResponseDeadlines => ({
  firstUpdateMs: P0_PLAN.firstUpdateMs * factor,
  mitigateMs: P0_PLAN.mitigateMs * factor,
  resolveMs: P0_PLAN.resolveMs * factor,
});
export const DEFAULT_RESPONSE_PLAN: ResponsePlan = {
  deadlines: { P0: P0_PLAN, P1: scalePlan(4), P2: scalePlan(16), P3: scalePlan(96) },
  graceMs: 120_000,
};

export interface IncidentPolicy {
  /** Time to acknowledgement before escalating, per severity, in milliseconds. */
  ackDeadlineMs: Record<Severity, number>;
  /** Interval between re-pages once escalated. */
  repageIntervalMs: number;
  /** Escalation tiers in order: tier 1 is paged at the first deadline. */
  tiers: EscalationTier[];
  approvers: ApproverPolicy;
  /** Permissions and the identity map; absent in incidents begun before they existed (= open). */
  access?: AccessPolicy;
  /** A pending gate escalates after this long... */
  gateEscalateAfterMs: number;
  /** ...and ends the runbook as not approved after this long. */
  gateDeadlineMs: number;
  /** After resolution, mitigations are restored automatically after this long unless decided earlier. */
  restoreAfterMs: number;
  /** All alerts of the incident resolved (and the view not partial) → resolve the incident. */
  resolveWhenAlertsResolve: boolean;
  /** P0 response may restart without a gate (the source runbook does). */
  p0RestartWithoutApproval: boolean;
  /** Deadline for a rollout to complete, in seconds. */
  rolloutTimeoutSeconds: number;
  /** After the runbook's steps, how long an unresolved incident stays open waiting for humans. */
  maxOpenMs: number;
  /** Deadlines after acknowledgement; absent in incidents started before the plan existed. */
  responsePlan?: ResponsePlan;
  /** After a mitigation's rollouts, how long the runbook watches the service before saying mitigated. */
  verifyWindowMs: number;
  /** A service is recovered when its error rate (per second) and p99 latency (seconds) are at most these. */
  verifyMaxErrorRatePerSecond: number;
  verifyMaxP99Seconds: number;
}

export const DEFAULT_POLICY: IncidentPolicy = {
  ackDeadlineMs: { P0: 15 * 60_000, P1: 60 * 60_000, P2: 4 * 3600_000, P3: 24 * 3600_000 },
  repageIntervalMs: 5 * 60_000,
  tiers: [
    { name: 'on-call', kind: 'slack', mentions: [] },
    { name: 'PagerDuty', kind: 'pagerduty', mentions: [] },
    { name: 'incident commander', kind: 'slack', mentions: [] },
  ],
  approvers: { users: [], groups: [] },
  gateEscalateAfterMs: 5 * 60_000,
  gateDeadlineMs: 30 * 60_000,
  restoreAfterMs: 60 * 60_000,
  resolveWhenAlertsResolve: true,
  p0RestartWithoutApproval: true,
  rolloutTimeoutSeconds: 300,
  maxOpenMs: 7 * 24 * 3600_000,
  responsePlan: DEFAULT_RESPONSE_PLAN,
  verifyWindowMs: 5 * 60_000,
  verifyMaxErrorRatePerSecond: 1,
  verifyMaxP99Seconds: 0.5,
};

/** Every runbook workflow takes this; `params` is the runbook's own zod-validated input. */
export interface IncidentInput<P = Record<string, unknown>> {
  incidentId: string;
  runbook: RunbookName;
  title: string;
  target: Target;
  /** All deployments the incident covers; `target` is the first. */
  targets: Target[];
  severity: Severity;
  trigger: Trigger;
  /** Who triggered it, for four-eyes checks (absent for alerts). */
  triggeredBy?: Actor;
  params: P;
  policy: IncidentPolicy;
  /** Slack channel for the incident card; absent = messages go to the worker log. */
  slackChannel?: string;
  /** When the triggering signal was first seen (alert startsAt), for MTTA/MTTR. */
  detectedAt?: string;
  /**
   * The group's previous run, when it ended without closing (failed, terminated, timed out): this
   * run is the same incident taken up again, and says so loudly (ingress/alerts/continuity.ts).
   */
  previousRun?: PreviousRun;
  /**
   * Present for a rehearsal (`--dry-run`): every change a server-side dry run, nothing in the
   * mitigation ledger, no page, no deployment hold (workflows/incident/rehearsal.ts).
   */
  rehearsal?: RehearsalOptions;
  /** Present for a runbook file (runbooks/files): its parsed definition and sha256, pinned at start. */
  definition?: PinnedDefinition;
}

/**
 * A runbook file's parsed definition as its incident started with it (runbooks/files/schema.ts
 * FileRunbook), with the sha256 of the file: editing the file never changes a running incident.
 */
export interface PinnedDefinition<D = { id: string; steps: unknown[] }> {
  hash: string;
  /** The file's name, without its directory. */
  file: string;
  definition: D;
}

export interface RehearsalOptions {
  /** `--yes`: gates are not asked; each counts as approved (with its first choice) and says so. */
  skipGates: boolean;
}

export interface PreviousRun {
  workflowId: string;
  runId: string;
  /** Temporal's name for how it ended: FAILED, TERMINATED, TIMED_OUT. */
  status: string;
  closedAt?: string;
  incidentId?: string;
}

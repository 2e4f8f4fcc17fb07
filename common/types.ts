/**
 * Plain data shared by workflows, activities, the ingress and the CLI. Pure types and constants
 * only: workflow code imports this, so nothing here may touch Node or a client. The mitigation
 * kinds are defined with their rules in domain/mitigations.ts.
 */
import type { IncidentHold } from '../domain/hold';
import type { MitigationRecord } from '../domain/mitigations';

export const SEVERITIES = ['P0', 'P1', 'P2', 'P3'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const RUNBOOK_IDS = ['p0-response', 'emergency-rollback', 'avalanche-mitigation', 'oom-triage'] as const;
export type RunbookId = (typeof RUNBOOK_IDS)[number];
/** A built-in runbook's id (RunbookId) or a runbook file's id (runbooks/files). */
export type RunbookName = string;

/** A Deployment in a namespace: what every runbook acts on. */
export interface Target {
  namespace: string;
  deployment: string;
}

export type IncidentStatus = 'open' | 'acknowledged' | 'mitigated' | 'resolved' | 'failed' | 'cancelled';
export const CLOSED_STATUSES: readonly IncidentStatus[] = ['resolved', 'failed', 'cancelled'];

/** Who or what started an incident. `user` is a Slack user id or a CLI user name. */
export type Trigger =
  | { kind: 'slack'; user: string; userName?: string; channel?: string }
  | { kind: 'cli'; user: string }
  | { kind: 'alert'; source: 'alertmanager' | 'grafana'; receiver: string; groupKey: string };

/** A person acting on an incident, as the ingress or CLI authenticated them. */
export interface Actor {
  /** Stable id: Slack user id (U...), or `cli:<name>` for the terminal. */
  id: string;
  /** Human-readable name for cards and postmortems. */
  name?: string;
  /** Slack user-group ids the actor belongs to, resolved by the ingress. */
  groups?: string[];
  /**
   * How the CLI learnt who acts: `mtls` (the Temporal client certificate's subject) or `api-key`
   * (the API key's owner in the identity map); absent = self-declared (FIREBREAK_USER, login).
   */
  proof?: 'mtls' | 'api-key';
}

/** One approval of a gate that needs several people. */
export interface GateApproval {
  actor: Actor;
  at: string;
}

export type TimelineKind =
  | 'opened'
  | 'step'
  | 'diagnostic'
  | 'decision'
  | 'gate'
  | 'escalation'
  | 'acknowledged'
  | 'mitigation'
  | 'restoration'
  | 'alert'
  | 'status'
  | 'failure'
  | 'note';

export interface TimelineEntry {
  /** ISO-8601 time from the workflow clock (deterministic). */
  at: string;
  kind: TimelineKind;
  message: string;
  /** Structured details: step name, gate, actor, figures. Never secrets. */
  data?: Record<string, unknown>;
}

export type GateStatus = 'pending' | 'approved' | 'rejected' | 'timed_out';

export interface GateState {
  name: string;
  prompt: string;
  status: GateStatus;
  requestedAt: string;
  /** When the gate escalates as overdue (a required gate stays open); an optional one ends unapproved. */
  deadline: string;
  /** A required gate past its deadline: still decidable, the incident escalating until someone acts. */
  overdue?: boolean;
  fourEyes: boolean;
  /** Choices offered with the request (e.g. rollback revisions); a decision may carry one. */
  choices?: string[];
  /** Distinct people needed to approve (N of M); absent = one. */
  quorum?: number;
  /** Subjects who may decide this gate, from the matching permissions rule; absent = policy.approvers. */
  approvers?: string[];
  /** Approvals so far on a quorum gate, one per person. */
  approvals?: GateApproval[];
  decidedBy?: Actor;
  decidedAt?: string;
  choice?: string;
  comment?: string;
}

/** Per-fingerprint state of the alerts that belong to an incident. */
export interface AlertState {
  fingerprint: string;
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  firstSeen: string;
  lastSeen: string;
  startsAt?: string;
  endsAt?: string;
}

/**
 * The alert group as its latest notification described it, exact whatever the incident keeps of
 * each alert: the ingress counts the whole notification before it cuts it down (domain/alerts.ts).
 */
export interface AlertSummary {
  firing: number;
  resolved: number;
  /** Alerts the sender itself left out (Alertmanager's `max_alerts`): their status is unknown. */
  withheld: number;
  /** The group's status as sent. */
  groupStatus: 'firing' | 'resolved';
  /** Notifications heard (each counted once, however many signals carried it). */
  notifications: number;
  /** When the latest notification counted was received by the ingress. */
  receivedAt: string;
  /** Alerts once kept in `alerts` and let go to keep it bounded (the oldest-seen of their status). */
  forgotten: number;
}

/** The incident record: what `statusQuery` returns and what the workflow returns. */
export interface IncidentRecord {
  id: string;
  runbook: RunbookName;
  title: string;
  target: Target;
  /** Extra deployments an incident covers (avalanche mitigation). */
  targets: Target[];
  severity: Severity;
  status: IncidentStatus;
  trigger: Trigger;
  openedAt: string;
  acknowledgedAt?: string;
  acknowledgedBy?: Actor;
  mitigatedAt?: string;
  resolvedAt?: string;
  closedAt?: string;
  /** Current step of the runbook, for progress displays. */
  currentStep?: string;
  escalationTier: number;
  gates: GateState[];
  mitigations: MitigationRecord[];
  /** The most recently seen alerts, at most ALERTS_KEPT_PER_STATUS of each status (domain/alerts.ts). */
  alerts: AlertState[];
  /** True when the latest notification's alerts were not all carried to the incident. */
  alertsPartial: boolean;
  /** Exact counts of the group; absent until a notification that carries counts. */
  alertSummary?: AlertSummary;
  /** The deployment holds this incident claimed: one remediation per deployment at a time. */
  holds?: IncidentHold[];
  timeline: TimelineEntry[];
  /** Slack card location once posted. */
  slack?: { channel: string; ts: string };
  outcome?: string;
  /** The response plan's next deadline after acknowledgement (`firebreak status` shows it). */
  nextDeadline?: { stage: string; at: string };
  /** Who cancelled the incident, when and why (`cancelUpdate`). */
  cancellation?: { by: Actor; at: string; reason?: string; restoreNow: boolean };
  failure?: { type: string; message: string };
  /** Set for a rehearsal (dry run): what the runbook would have changed, nothing of which was changed. */
  rehearsal?: RehearsalRecord;
}

/** A rehearsal's account of the changes it did not make. */
export interface RehearsalRecord {
  skipGates: boolean;
  /** The first MAX_WOULD_BE_CHANGES would-be changes, in order (domain/rehearsal.ts words them). */
  wouldChange: WouldBeChange[];
  /** Would-be changes past the bound: counted, on the timeline and in the history, not kept here. */
  moreChanges: number;
}

export interface WouldBeChange {
  target: Target;
  /** "env OTEL_BSP_MAX_QUEUE_SIZE unset → 128 (container app)", as a real change is worded. */
  what: string;
  at: string;
}

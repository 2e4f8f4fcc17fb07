/**
 * The postmortem model, schema version 1 (docs/postmortem-schema.md). Everything in it is derived
 * from the workflow's event history, so two exports of the same history are identical apart from
 * `generatedAt`, and `source.historyDigest` lets a reader check the history was not altered.
 * Additive changes keep the version; a renamed or removed field bumps it.
 */
import type { Actor, IncidentRecord, Severity, Target, TimelineEntry, Trigger } from '../common/types';
import type { MitigationChange } from '../domain/mitigations';

export const POSTMORTEM_SCHEMA_VERSION = 1;

export interface Postmortem {
  schemaVersion: typeof POSTMORTEM_SCHEMA_VERSION;
  generatedAt: string;
  source: PostmortemSource;
  summary: PostmortemSummary;
  times: KeyTimes;
  activities: ActivityRecord[];
  gates: GateRecord[];
  decisions: DecisionRecord[];
  signals: SignalRecord[];
  timers: TimerRecord[];
  escalations: EscalationRecord[];
  mitigations: MitigationSummary[];
  /** Artefacts taken out of the cluster (heap profiles, previous logs): where they are kept, size, sha256. */
  evidence: EvidenceRecord[];
  statusChanges: { at: string; status: string; eventId: number }[];
  markers: { at: string; name: string; eventId: number }[];
  failures: FailureRecord[];
  /**
   * A rehearsal's (dry run's) would-be changes, from its dry-run remediations in the history, worded
   * as real changes are (domain/rehearsal.ts). Present only for rehearsals; nothing in it was changed.
   */
  wouldBeChanges?: WouldBeChangeRecord[];
  /** Every item above, in history order, as one readable list. */
  timeline: TimelineItem[];
  /**
   * The runbook's own account (steps, diagnostics, notes) as the workflow recorded it: from its
   * result when closed, else from the snapshots and thread posts its history holds.
   */
  narrative: TimelineEntry[];
  checklist: ChecklistItem[];
}

export interface PostmortemSource {
  workflowId: string;
  runId?: string;
  workflowType: string;
  taskQueue?: string;
  /** Number of history events read. */
  historyLength: number;
  /** `sha256:<hex>` of the protobuf-encoded history: re-fetch and compare to detect tampering. */
  historyDigest: string;
  /** `running`, or how the execution closed (`completed`, `failed`, `terminated`, ...). */
  executionStatus: string;
  /** Where the incident record came from: the workflow result, the last snapshot the history holds, or nowhere. */
  recordSource: 'result' | 'snapshot' | 'none';
  /** Run that continued into this one (continue-as-new), when any. */
  continuedFromRunId?: string;
  /** The build (Worker Deployment version) the incident ran on; absent for unversioned workers. */
  build?: { deploymentName: string; buildId: string };
}

export interface PostmortemSummary {
  incidentId?: string;
  title?: string;
  runbook?: string;
  /** A runbook file's incident: the file and the sha256 of the definition it ran (pinned at start). */
  runbookFile?: { file: string; sha256: string };
  target?: Target;
  targets: Target[];
  severity?: Severity;
  trigger?: Trigger;
  /** Who or what triggered it, in words: `alert alertmanager (receiver web.hook)` or `cli:alice`. */
  triggeredBy: string;
  /** Current or final status of the incident. */
  status: string;
  outcome?: string;
  failure?: { type: string; message: string };
  /** Who cancelled the incident, when and why, when it was cancelled by `cancelUpdate`. */
  cancellation?: { by: Actor; at: string; reason?: string; restoreNow: boolean };
  params?: Record<string, unknown>;
  /** True for a rehearsal (`--dry-run`): nothing in the cluster changed and nobody was paged. */
  rehearsal?: boolean;
}

export interface WouldBeChangeRecord {
  at: string;
  target: Target;
  /** The remediation that was sent as a server-side dry run. */
  activity: string;
  /** "replicas 1 → 3", as the same change reads when it is made. */
  what: string;
  eventId: number;
}

export interface KeyTimes {
  detected?: string;
  started: string;
  acknowledged?: string;
  acknowledgedBy?: Actor;
  mitigated?: string;
  resolved?: string;
  closed?: string;
  /** Mean time to acknowledge: detected → acknowledged, in ms. */
  mttaMs?: number;
  /** Time to mitigate: detected → mitigated, in ms. */
  ttmMs?: number;
  /** Mean time to resolve: detected → resolved, in ms. */
  mttrMs?: number;
}

export type ActivityOutcome = 'completed' | 'failed' | 'timed_out' | 'cancelled' | 'running' | 'scheduled';

export interface ActivityRecord {
  eventId: number;
  activityId: string;
  name: string;
  scheduledAt: string;
  startedAt?: string;
  closedAt?: string;
  /** Scheduled → closed, retries included. */
  durationMs?: number;
  attempts: number;
  outcome: ActivityOutcome;
  /** The activity's input, secrets redacted. */
  input: unknown;
  /** A one-line account of the input for the timeline. */
  inputSummary: string;
  result?: unknown;
  failure?: FailureDetail;
  /** The failure of the attempt before the last one, when the activity was retried. */
  lastAttemptFailure?: FailureDetail;
}

export interface FailureDetail {
  message: string;
  type?: string;
  nonRetryable?: boolean;
}

export interface DecisionRecord {
  eventId: number;
  updateId: string;
  /** `acknowledge`, or the gate decision `approve` / `reject`. */
  kind: 'acknowledge' | 'approve' | 'reject' | string;
  gate?: string;
  actor?: Actor;
  at: string;
  choice?: string;
  comment?: string;
  note?: string;
  /** `accepted` until its completion event; `completed` or `failed` after. */
  outcome: 'accepted' | 'completed' | 'failed';
  /** Gate status after the decision, as the workflow returned it. */
  gateStatus?: string;
  failure?: FailureDetail;
}

/** An approval gate: when it was asked, until when, and how it ended. */
export interface GateRecord {
  name: string;
  prompt: string;
  requestedAt: string;
  deadline?: string;
  fourEyes?: boolean;
  choices?: string[];
  status: string;
  decidedAt?: string;
  decidedBy?: Actor;
  choice?: string;
  comment?: string;
}

export interface SignalRecord {
  eventId: number;
  name: string;
  at: string;
  actor?: Actor;
  summary: string;
}

export interface TimerRecord {
  eventId: number;
  timerId: string;
  startedAt: string;
  durationMs: number;
  /** Which policy duration it matches, when one does (`acknowledgement deadline`...). */
  purpose?: string;
  outcome: 'fired' | 'canceled' | 'pending';
  endedAt?: string;
}

export interface EscalationRecord {
  at: string;
  tier: string;
  channel: 'slack' | 'pagerduty' | 'email';
  reason: string;
  eventId: number;
  outcome: ActivityOutcome;
}

export interface MitigationSummary {
  key: string;
  target: Target;
  change: MitigationChange;
  appliedAt: string;
  restored: boolean;
  restoredAt?: string;
  restoreNote?: string;
}

/** One artefact in the evidence store, as its capture activity reported it. */
export interface EvidenceRecord {
  name: string;
  /** What it is and where it came from. */
  source: string;
  bytes: number;
  sha256: string;
  /** Cut at the cap: only the first `bytes` bytes were kept. */
  truncated: boolean;
  capturedAt: string;
  /** The evidence store's file, and its copies (the archive directory). */
  path: string;
  copies: string[];
  /** The Slack file posted in the incident's thread, when it was. */
  slackFileId?: string;
  /** The capture activity's scheduled event. */
  eventId: number;
}

export interface FailureRecord {
  at: string;
  /** `activity`, `workflow`, `decision`, or `runbook` (the incident's own failure record). */
  where: string;
  what: string;
  failure: FailureDetail;
  eventId?: number;
}

export type TimelineItemKind =
  | 'workflow'
  | 'activity'
  | 'decision'
  | 'signal'
  | 'timer'
  | 'status'
  | 'escalation'
  | 'mitigation'
  | 'restoration'
  | 'marker'
  | 'failure';

export interface TimelineItem {
  at: string;
  kind: TimelineItemKind;
  text: string;
  eventId: number;
}

export interface ChecklistItem {
  item: string;
  /** The source runbook's wording (001, 故障后检查清单). */
  original: string;
  done: boolean;
}

/** The incident record found in the history (result or last snapshot), if any. */
export type RecordFound = { record: IncidentRecord; source: 'result' | 'snapshot'; eventId: number } | undefined;

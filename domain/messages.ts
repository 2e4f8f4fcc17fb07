/**
 * The incident's message contract, defined once and imported by the kernel, the ingress, the CLI and
 * tests. Names are part of running workflows' histories: never rename, add new ones instead.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { Actor, GateState, IncidentRecord } from '../common/types';

export interface AcknowledgeRequest {
  actor: Actor;
  note?: string;
}

export interface DecideRequest {
  /** Gate name; may be omitted when exactly one gate is pending. */
  gate?: string;
  decision: 'approve' | 'reject';
  actor: Actor;
  /** One of the gate's choices (e.g. a rollback revision), when it offers any. */
  choice?: string;
  comment?: string;
}

export interface ResolveRequest {
  actor: Actor;
  note?: string;
}

/** An action someone was refused on this incident, told by the ingress or CLI that refused it. */
export interface RefusalNotice {
  actor: Actor;
  /** start, approve, acknowledge, resolve, cancel. */
  action: string;
  reason: string;
  /** slack, cli, alert: the label it is counted under (else read from the actor's id). */
  channel?: string;
  /** The sender counted it in its own /metrics (the ingress); absent, the workflow counts it. */
  counted?: boolean;
}

export interface AlertInstance {
  fingerprint: string;
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt?: string;
  endsAt?: string;
}

export interface AlertNotification {
  source: 'alertmanager' | 'grafana';
  receiver: string;
  groupKey: string;
  /** Group status as sent; a `firing` group can still carry resolved alerts. */
  status: 'firing' | 'resolved';
  /**
   * Alerts this signal does not carry — left out by the sender, beyond the ingress's bound, or in
   * the other parts of a split notification; > 0 means this view is partial.
   */
  truncatedAlerts: number;
  /**
   * The whole notification counted by the ingress before it cut the alerts down: exact, whatever
   * `alerts` carries. Absent in signals sent before counting existed.
   */
  counts?: { firing: number; resolved: number; withheld: number };
  /** Cut down by the ingress to what folds the incident's view (a few labels, bounded values). */
  alerts: AlertInstance[];
  receivedAt: string;
  /** What the ingress derived because the sender did not send it (older Alertmanagers, hand-written senders). */
  derived?: string[];
  /** Set when one notification was split over several signals to bound each payload (1-based index). */
  part?: { index: number; count: number };
}

/** Acknowledge the incident: stops escalation. Returns the record after acknowledgement. */
export const acknowledgeUpdate = defineUpdate<IncidentRecord, [AcknowledgeRequest]>('acknowledge');
/** Approve or reject a gate. The Slack action id is the update id: a double click is one decision. */
export const decideUpdate = defineUpdate<GateState, [DecideRequest]>('decide');
/** Mark the incident resolved; mitigations are then restored per policy. */
export const resolveSignal = defineSignal<[ResolveRequest]>('resolve');
/** A later notification for the same alert group. */
export const alertSignal = defineSignal<[AlertNotification]>('alert');
/**
 * Several notifications (or parts) of the group, in arrival order, coalesced by the ingress into
 * one signal while an earlier one was in flight; folded exactly as that many `alert` signals.
 */
export const alertsSignal = defineSignal<[AlertNotification[]]>('alerts');
/**
 * Answered (true) by every build that folds `alerts`. An incident pinned to an older build has no
 * such query: the ingress asks before its first coalesced signal to an incident, since such a
 * build would record an `alerts` signal and never read it.
 */
export const foldsAlertBatchesQuery = defineQuery<boolean>('foldsAlertBatches');
/** Records a refused action on the incident's timeline (bounded); changes nothing else. */
export const refusedSignal = defineSignal<[RefusalNotice]>('refused');
/** The current incident record. */
export const statusQuery = defineQuery<IncidentRecord>('status');

export interface CancelRequest {
  actor: Actor;
  /** Why, for the card, the thread and the postmortem. */
  reason?: string;
  /** Restore the temporary mitigations at once instead of asking through the restore gate. */
  restoreNow?: boolean;
}

/**
 * Cancel the incident: the runbook stops (changes already sent settle), pending gates are withdrawn,
 * mitigations are restored (restore gate, or at once), pages are resolved. Only approvers, when
 * configured. Returns the record as the cancellation found it.
 */
export const cancelUpdate = defineUpdate<IncidentRecord, [CancelRequest]>('cancel');

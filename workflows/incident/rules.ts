/**
 * Pure rules of the kernel: who may decide a gate, how alert notifications fold into the
 * incident's view, how mitigation results become ledger entries. No workflow APIs here except
 * ApplicationFailure, so the rules read (and are tested) on their own.
 */
import { ApplicationFailure } from '@temporalio/workflow';
import { ErrorType } from '../../common/errors';
import type { ApproverPolicy } from '../../common/incident';
import { CLOSED_STATUSES } from '../../common/types';
import type { Actor, AlertState, GateState, IncidentRecord, MitigationChange, Target } from '../../common/types';
import type { AlertNotification, DecideRequest } from './messages';

function refuse(message: string, type: ErrorType): never {
  throw ApplicationFailure.nonRetryable(message, type);
}

export function isClosed(record: IncidentRecord): boolean {
  return CLOSED_STATUSES.includes(record.status);
}

export function isAuthorized(actor: Actor, approvers: ApproverPolicy): boolean {
  if (approvers.users.length === 0 && approvers.groups.length === 0) return true;
  if (approvers.users.includes(actor.id)) return true;
  return (actor.groups ?? []).some((group) => approvers.groups.includes(group));
}

/**
 * The decide validator's body (the kernel checks closure itself: the restore gate is decided after
 * resolution): throws before anything reaches history, so a refused click
 * leaves no trace in the incident. Returns the gate the decision applies to.
 */
export function checkDecision(
  record: IncidentRecord,
  request: DecideRequest,
  approvers: ApproverPolicy,
  triggeredBy: Actor | undefined,
): GateState {
  if (request.decision !== 'approve' && request.decision !== 'reject') {
    refuse(`decision must be approve or reject`, ErrorType.INVALID_INPUT);
  }
  const gate = findGate(record, request.gate);
  if (gate.status !== 'pending') refuse(`gate ${gate.name} is already ${gate.status}`, ErrorType.GATE_CLOSED);
  if (!isAuthorized(request.actor, approvers)) {
    refuse(`${request.actor.name ?? request.actor.id} may not decide gate ${gate.name}`, ErrorType.UNAUTHORIZED);
  }
  // Rejecting one's own request is always safe; only an approval needs a second pair of eyes.
  if (request.decision === 'approve' && gate.fourEyes && triggeredBy?.id === request.actor.id) {
    refuse(`gate ${gate.name} needs someone other than the person who triggered the incident`, ErrorType.SELF_APPROVAL);
  }
  if (request.decision === 'approve' && gate.choices?.length) {
    if (request.choice === undefined)
      refuse(`gate ${gate.name} needs a choice: ${gate.choices.join(', ')}`, ErrorType.INVALID_INPUT);
    if (!gate.choices.includes(request.choice)) {
      refuse(`choice ${request.choice} is not one of ${gate.choices.join(', ')}`, ErrorType.INVALID_INPUT);
    }
  } else if (request.choice !== undefined && !gate.choices?.length) {
    refuse(`gate ${gate.name} offers no choices`, ErrorType.INVALID_INPUT);
  }
  return gate;
}

function findGate(record: IncidentRecord, name: string | undefined): GateState {
  if (name !== undefined) {
    return record.gates.find((gate) => gate.name === name) ?? refuse(`no gate named ${name}`, ErrorType.UNKNOWN_GATE);
  }
  const pending = record.gates.filter((gate) => gate.status === 'pending');
  if (pending.length === 1) return pending[0]!;
  if (pending.length === 0) refuse('no gate is waiting for a decision', ErrorType.GATE_CLOSED);
  return refuse(
    `several gates are pending (${pending.map((g) => g.name).join(', ')}): name one`,
    ErrorType.INVALID_INPUT,
  );
}

/** Folds a notification into per-fingerprint state; returns the fingerprints whose status changed. */
export function mergeAlerts(alerts: AlertState[], notification: AlertNotification, now: string): AlertState[] {
  const changed: AlertState[] = [];
  for (const alert of notification.alerts) {
    const known = alerts.find((state) => state.fingerprint === alert.fingerprint);
    if (!known) {
      const state: AlertState = {
        fingerprint: alert.fingerprint,
        status: alert.status,
        labels: alert.labels,
        firstSeen: now,
        lastSeen: now,
        startsAt: alert.startsAt,
        endsAt: alert.endsAt,
      };
      alerts.push(state);
      changed.push(state);
      continue;
    }
    const statusChanged = known.status !== alert.status;
    Object.assign(known, { status: alert.status, labels: alert.labels, lastSeen: now, endsAt: alert.endsAt });
    if (statusChanged) changed.push(known);
  }
  return changed;
}

/** All known alerts resolved, from a complete view: the only state in which alerts may close an incident. */
export function alertsAllResolved(record: IncidentRecord): boolean {
  return !record.alertsPartial && record.alerts.length > 0 && record.alerts.every((a) => a.status === 'resolved');
}

/** The ledger key: one entry per setting, so a second change of the same setting keeps the first previous value. */
export function mitigationKey(target: Target, change: MitigationChange): string {
  const base = `${target.namespace}/${target.deployment}`;
  switch (change.kind) {
    case 'env':
      return `${base}/env/${change.container}/${change.name}`;
    case 'replicas':
      return `${base}/replicas`;
    case 'resources':
      return `${base}/${change.field}/${change.container}/${change.resource}`;
  }
}

/** One ledger change per variable an env patch touched. */
export function envChanges(result: {
  container: string;
  previous: Record<string, string | null>;
  applied: Record<string, string | null>;
}): MitigationChange[] {
  return Object.keys(result.applied).map((name) => ({
    kind: 'env',
    container: result.container,
    name,
    previous: result.previous[name] ?? null,
    applied: result.applied[name] ?? null,
  }));
}

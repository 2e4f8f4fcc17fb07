/**
 * Approval gates: the runbooks' gate definitions, shared by the workflows (which open them) and the
 * catalog (which lists them for Slack, the CLI and documentation), and the rule for who may decide
 * one. Gate names are part of running incidents and of `firebreak approve --gate`: never rename one.
 */
import { ApplicationFailure } from '@temporalio/common';
import { ErrorType } from '../common/errors';
import type { AccessPolicy } from '../common/access';
import type { ApproverPolicy } from '../common/incident';
import type { Actor, GateState, IncidentRecord } from '../common/types';
import { actorMatches, samePerson } from './access';
import type { DecideRequest } from './messages';

export interface GateDefinition {
  name: string;
  prompt: string;
  fourEyes: boolean;
}

export const P0_RESTART_GATE: GateDefinition = {
  name: 'restart',
  prompt: 'Attempt automatic recovery with a rollout restart?',
  fourEyes: false,
};

export const ROLLBACK_CONFIRM_GATE: GateDefinition = {
  name: 'confirm-rollback',
  prompt: 'Are you sure you want to roll back?',
  fourEyes: true,
};

export const OOM_DISABLE_EXPORT_GATE: GateDefinition = {
  name: 'disable-trace-export',
  prompt: 'Extreme case: disable trace export (OTEL_TRACES_EXPORTER=none) until the incident is resolved?',
  fourEyes: false,
};

/** Offered by the kernel on every runbook that recorded temporary mitigations. */
export const RESTORE_GATE: GateDefinition = {
  name: 'restore',
  prompt: 'Restore the temporary mitigations to their previous values?',
  fourEyes: false,
};

function refuse(message: string, type: ErrorType): never {
  throw ApplicationFailure.nonRetryable(message, type);
}

export function isAuthorized(actor: Actor, approvers: ApproverPolicy, access?: AccessPolicy): boolean {
  if (approvers.users.length === 0 && approvers.groups.length === 0) return true;
  if (actorMatches(actor, approvers.users, access?.people)) return true;
  return (actor.groups ?? []).some((group) => approvers.groups.includes(group));
}

/** A gate that needs more than the requester's word: four-eyes, or several people. */
export function needsSecondPerson(gate: Pick<GateState, 'fourEyes' | 'quorum'>): boolean {
  return gate.fourEyes || (gate.quorum ?? 1) > 1;
}

/**
 * The decide validator's body (the kernel checks closure itself: the restore gate is decided after
 * resolution): throws before anything reaches history, so a refused click
 * leaves no trace in the incident. Returns the gate the decision applies to. People, not accounts,
 * are counted: the identity map makes one person's Slack and CLI accounts one approver.
 */
export function checkDecision(
  record: IncidentRecord,
  request: DecideRequest,
  approvers: ApproverPolicy,
  triggeredBy: Actor | undefined,
  access?: AccessPolicy,
): GateState {
  if (request.decision !== 'approve' && request.decision !== 'reject') {
    refuse(`decision must be approve or reject`, ErrorType.INVALID_INPUT);
  }
  const gate = findGate(record, request.gate);
  if (gate.status !== 'pending') refuse(`gate ${gate.name} is already ${gate.status}`, ErrorType.GATE_CLOSED);
  const { actor } = request;
  const allowed = gate.approvers
    ? actorMatches(actor, gate.approvers, access?.people)
    : isAuthorized(actor, approvers, access);
  if (!allowed) refuse(`${actor.name ?? actor.id} may not decide gate ${gate.name}`, ErrorType.UNAUTHORIZED);
  if (access?.requireProvenCliIdentity && actor.id.startsWith('cli:') && !actor.proof && needsSecondPerson(gate)) {
    refuse(
      `gate ${gate.name} needs a CLI identity proven by the Temporal connection (mTLS certificate or API key); ` +
        `${actor.id} is self-declared`,
      ErrorType.UNAUTHORIZED,
    );
  }
  if (request.decision === 'approve') checkApproval(gate, request, triggeredBy, access);
  else if (request.choice !== undefined && !gate.choices?.length) {
    refuse(`gate ${gate.name} offers no choices`, ErrorType.INVALID_INPUT);
  }
  return gate;
}

function checkApproval(
  gate: GateState,
  request: DecideRequest,
  triggeredBy: Actor | undefined,
  access: AccessPolicy | undefined,
): void {
  // Rejecting one's own request is always safe; only an approval needs a second pair of eyes.
  if (needsSecondPerson(gate) && samePerson(triggeredBy, request.actor, access?.people)) {
    refuse(`gate ${gate.name} needs someone other than the person who triggered the incident`, ErrorType.SELF_APPROVAL);
  }
  const earlier = gate.approvals ?? [];
  if (earlier.some((approval) => samePerson(approval.actor, request.actor, access?.people))) {
    refuse(
      `${request.actor.name ?? request.actor.id} already approved gate ${gate.name}; it needs ${gate.quorum} different people`,
      ErrorType.ALREADY_APPROVED,
    );
  }
  if (gate.choices?.length) {
    if (request.choice === undefined)
      refuse(`gate ${gate.name} needs a choice: ${gate.choices.join(', ')}`, ErrorType.INVALID_INPUT);
    if (!gate.choices.includes(request.choice)) {
      refuse(`choice ${request.choice} is not one of ${gate.choices.join(', ')}`, ErrorType.INVALID_INPUT);
    }
    // Several approvers approve one thing: the first approval's choice.
    if (gate.choice !== undefined && earlier.length > 0 && request.choice !== gate.choice) {
      refuse(`gate ${gate.name} is being approved for ${gate.choice}; approve that or reject`, ErrorType.INVALID_INPUT);
    }
  } else if (request.choice !== undefined) {
    refuse(`gate ${gate.name} offers no choices`, ErrorType.INVALID_INPUT);
  }
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

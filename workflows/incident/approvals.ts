/**
 * Approval gates: a step that needs a human opens a gate (Slack buttons, `firebreak approve`) and
 * waits with a deadline. Decisions arrive through `decideUpdate`, whose synchronous validator
 * (domain/gates.ts) refuses what may not be decided; a gate left undecided escalates, then times
 * out — it never approves.
 */
import { ApplicationFailure, condition, patched } from '@temporalio/workflow';
import { ErrorType } from '../../common/errors';
import type { GateState } from '../../common/types';
import { gateRule } from '../../domain/access';
import { checkDecision } from '../../domain/gates';
import type { DecideRequest } from '../../domain/messages';
import { REHEARSAL_LABEL } from '../../domain/rehearsal';
import type { Escalation } from './escalation';
import { REQUIRED_GATE_STAYS_OPEN } from './patches';
import type { Rehearsal } from './rehearsal';
import { actorName, now, type IncidentState } from './state';

export interface GateSpec {
  name: string;
  prompt: string;
  fourEyes: boolean;
  choices?: string[];
  /** Approvals from different people the gate needs at least (the access rule's quorum may ask more). */
  quorum?: number;
  /** Defaults to the policy's gateDeadlineMs. */
  deadlineMs?: number;
  /** Page the next tier when still undecided after this long; null = never. Defaults to policy. */
  escalateAfterMs?: number | null;
  /** A runbook gate is withdrawn when the incident is resolved meanwhile; the restore gate is not. */
  withdrawOnResolve?: boolean;
  /** Withdrawn, too, once the question is moot (e.g. the deployment hold was granted); says why. */
  withdrawWhen?: { moot: () => boolean; because: string };
}

/** A gate refused or left undecided: the runbook ends, the incident closes with this outcome. */
export class RunbookStopped extends Error {
  constructor(
    readonly status: 'cancelled' | 'failed',
    readonly outcome: string,
    readonly type: ErrorType,
  ) {
    super(outcome);
    this.name = 'RunbookStopped';
  }
}

export class Approvals {
  constructor(
    private readonly state: IncidentState<unknown>,
    private readonly escalation: Escalation,
    private readonly rehearsal?: Rehearsal,
  ) {}

  /**
   * Opens a gate and waits for a decision; a timeout escalates and never approves. A required gate
   * outlives its deadline: it stays decidable and keeps escalating (overdue) until decided, withdrawn
   * by a resolution, or the incident reaches its maximum open time.
   */
  async ask(spec: GateSpec, options: { required?: boolean } = {}): Promise<GateState> {
    const { record, policy, slack } = this.state;
    if (record.gates.some((gate) => gate.name === spec.name)) {
      throw ApplicationFailure.nonRetryable(`gate ${spec.name} was already asked`, ErrorType.INVALID_INPUT);
    }
    const skipped = this.rehearsal?.skipGate(spec);
    if (skipped) return skipped;
    const openedAt = Date.now();
    const deadlineMs = spec.deadlineMs ?? policy.gateDeadlineMs;
    const escalateAfterMs = spec.escalateAfterMs === undefined ? policy.gateEscalateAfterMs : spec.escalateAfterMs;
    const gate: GateState = {
      name: spec.name,
      // The approval request stands alone in the channel: it must say that approving changes nothing.
      prompt: this.state.rehearsal ? `${REHEARSAL_LABEL} (nothing will change): ${spec.prompt}` : spec.prompt,
      status: 'pending',
      requestedAt: new Date(openedAt).toISOString(),
      deadline: new Date(openedAt + deadlineMs).toISOString(),
      fourEyes: spec.fourEyes,
      ...(spec.choices?.length ? { choices: spec.choices } : {}),
      ...this.approvalRule(spec.name, spec.quorum),
    };
    record.gates.push(gate);
    slack.cardChanged();
    this.state.note('gate', `Approval needed (${spec.name}): ${spec.prompt}`, { gate: spec.name }, { post: false });
    slack.post({ kind: 'approval', gate: spec.name });

    const moot = () => spec.withdrawWhen?.moot() ?? false;
    const withdrawn = () => (spec.withdrawOnResolve !== false && this.state.resolvedMeanwhile()) || moot();
    const settled = () => gate.status !== 'pending' || withdrawn();
    if (escalateAfterMs !== null && escalateAfterMs < deadlineMs && !(await condition(settled, escalateAfterMs))) {
      await this.escalation.escalate(`gate ${spec.name} is still waiting for a decision`);
    }
    const remaining = Math.max(1, openedAt + deadlineMs - Date.now());
    if (!(await condition(settled, remaining)) && options.required && patched(REQUIRED_GATE_STAYS_OPEN)) {
      await this.overdue(gate, settled);
    }
    if (gate.status === 'pending') {
      const resolvedMeanwhile = gate.status === 'pending' && withdrawn();
      gate.status = resolvedMeanwhile ? 'rejected' : 'timed_out';
      gate.decidedAt = now();
      if (resolvedMeanwhile)
        gate.comment = `withdrawn: ${moot() ? spec.withdrawWhen!.because : 'the incident was resolved'}`;
      this.state.note('gate', `Gate ${spec.name} ${resolvedMeanwhile ? 'withdrawn' : 'timed out without a decision'}`, {
        gate: spec.name,
        status: gate.status,
      });
      slack.post({ kind: 'approval-closed', gate: spec.name });
    }
    slack.cardChanged();
    return gate;
  }

  /**
   * Past its deadline a required gate stays open: the incident is paged up the tiers, then re-paged
   * on the interval, as for an unacknowledged incident. Bounded by the incident's maximum open time.
   */
  private async overdue(gate: GateState, settled: () => boolean): Promise<void> {
    const { record, policy } = this.state;
    gate.overdue = true;
    this.state.slack.cardChanged();
    this.state.note('gate', `Gate ${gate.name} is overdue: it stays open until someone decides or resolves`, {
      gate: gate.name,
      status: 'overdue',
    });
    const closesAt = Date.parse(record.openedAt) + policy.maxOpenMs;
    for (;;) {
      await this.escalation.escalate(`gate ${gate.name} was not decided in time`);
      const wait = Math.min(policy.repageIntervalMs, closesAt - Date.now());
      if (wait <= 0 || (await condition(settled, wait))) return;
    }
  }

  /**
   * A gate the runbook cannot go on without: rejection ends the runbook; a timeout leaves it open
   * and escalating (overdue) until decided, and ends the runbook only at the maximum open time.
   */
  async require(spec: GateSpec, refusedOutcome: string): Promise<GateState> {
    const gate = await this.ask(spec, { required: true });
    if (gate.status === 'approved') return gate;
    if (gate.status === 'timed_out') {
      throw new RunbookStopped('failed', `${refusedOutcome}: not approved in time`, ErrorType.APPROVAL_TIMED_OUT);
    }
    throw new RunbookStopped('cancelled', refusedOutcome, ErrorType.APPROVAL_REJECTED);
  }

  /**
   * Who decides this gate and how many people it takes, fixed when the gate opens (from the policy
   * the incident started with), so a restart or continue-as-new keeps the same rule.
   */
  private approvalRule(name: string, atLeast = 1): Pick<GateState, 'approvers' | 'quorum' | 'approvals'> {
    const { record, policy } = this.state;
    const namespaces = [...new Set(record.targets.map((target) => target.namespace))];
    const rule = gateRule(policy.access, name, { runbook: record.runbook, namespaces });
    const quorum = Math.max(rule?.quorum ?? 1, atLeast);
    return { ...(rule ? { approvers: rule.who } : {}), ...(quorum > 1 ? { quorum, approvals: [] } : {}) };
  }

  /** decideUpdate's validator: throws before anything reaches history. */
  check(request: DecideRequest): GateState {
    const { record, policy, input } = this.state;
    if (record.closedAt !== undefined) {
      throw ApplicationFailure.nonRetryable(`incident ${record.id} is closed`, ErrorType.INCIDENT_CLOSED);
    }
    return checkDecision(record, request, policy.approvers, input.triggeredBy, policy.access);
  }

  decide(request: DecideRequest): GateState {
    const gate = this.check(request);
    if (request.decision === 'approve' && gate.quorum !== undefined && gate.quorum > 1) {
      const approvals = (gate.approvals ??= []);
      approvals.push({ actor: request.actor, at: now() });
      if (request.choice !== undefined) gate.choice = request.choice;
      if (approvals.length < gate.quorum) return this.partialApproval(gate, request);
    }
    gate.status = request.decision === 'approve' ? 'approved' : 'rejected';
    gate.decidedBy = request.actor;
    gate.decidedAt = now();
    if (request.choice !== undefined) gate.choice = request.choice;
    if (request.comment !== undefined) gate.comment = request.comment;
    const choice = request.choice !== undefined ? ` (${request.choice})` : '';
    this.state.note('decision', `Gate ${gate.name} ${gate.status}${choice} by ${actorName(request.actor)}`, {
      gate: gate.name,
      decision: gate.status,
      actor: request.actor.id,
      ...(request.choice !== undefined ? { choice: request.choice } : {}),
    });
    this.state.slack.post({ kind: 'approval-closed', gate: gate.name });
    return { ...gate };
  }

  /** One more person approved a quorum gate: it stays pending, the card shows who so far. */
  private partialApproval(gate: GateState, request: DecideRequest): GateState {
    const count = gate.approvals?.length ?? 0;
    this.state.note(
      'decision',
      `Gate ${gate.name}: approval ${count} of ${gate.quorum} by ${actorName(request.actor)}`,
      {
        gate: gate.name,
        decision: 'approval',
        actor: request.actor.id,
        approvals: count,
        quorum: gate.quorum,
      },
    );
    this.state.slack.cardChanged();
    return { ...gate };
  }
}

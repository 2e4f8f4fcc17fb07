/**
 * Permissions the kernel enforces itself, whoever sends the message (Slack, the CLI, anything with
 * Temporal access): acknowledge and cancel (the updates' validators refuse before history) and resolve (a
 * signal cannot be refused, so an unpermitted one is recorded and ignored). Refusals the ingress or
 * CLI made are recorded here too, boundedly, so the postmortem shows who tried what; those no one
 * counted yet (the CLI's, the kernel's own) are counted in /metrics through the `access` sink.
 */
import { ApplicationFailure, proxySinks } from '@temporalio/workflow';
import { ErrorType } from '../../common/errors';
import type { Actor } from '../../common/types';
import { mayAct } from '../../domain/access';
import type { AcknowledgeRequest, CancelRequest, RefusalNotice, ResolveRequest } from '../../domain/messages';
import { isClosed } from '../../domain/record';
import { refusalLabels, type FirebreakSinks } from '../../domain/refusals';
import { actorName, type IncidentState } from './state';

/** Past this many, refusals are only logged: a flood of refused clicks cannot grow the history. */
const MAX_RECORDED_REFUSALS = 20;
const MAX_REASON_CHARS = 300;

const { access: accessSink } = proxySinks<FirebreakSinks>();

export class AccessGuard {
  private recorded = 0;

  constructor(private readonly state: IncidentState<unknown>) {}

  checkAcknowledge(request: AcknowledgeRequest): void {
    this.state.checkAcknowledge(request);
    if (!mayAct(this.state.policy.access, 'acknowledge', request.actor)) {
      throw ApplicationFailure.nonRetryable(
        `${actorName(request.actor)} may not acknowledge incident ${this.state.id}`,
        ErrorType.UNAUTHORIZED,
      );
    }
  }

  /** The kernel's own rules first (closed incident, approvers), then `permissions.cancel`. */
  checkCancel(request: CancelRequest, kernelCheck: () => void): void {
    kernelCheck();
    if (!mayAct(this.state.policy.access, 'cancel', request.actor)) {
      throw ApplicationFailure.nonRetryable(
        `${actorName(request.actor)} may not cancel incident ${this.state.id}`,
        ErrorType.UNAUTHORIZED,
      );
    }
  }

  resolve(request: ResolveRequest): void {
    if (mayAct(this.state.policy.access, 'resolve', request.actor)) return this.state.requestResolution(request);
    this.refused({ actor: request.actor, action: 'resolve', reason: 'not in permissions.resolve' });
  }

  refused(notice: RefusalNotice): void {
    // Counted even past the recording bound: a sink call adds nothing to the history.
    if (notice.counted !== true) accessSink.refused(refusalLabels(notice));
    if (isClosed(this.state.record) || this.recorded >= MAX_RECORDED_REFUSALS) return;
    this.recorded++;
    const actor: Actor = { id: String(notice.actor?.id).slice(0, 100) };
    if (notice.actor?.name) actor.name = String(notice.actor.name).slice(0, 100);
    const action = String(notice.action).slice(0, 40);
    this.state.note(
      'note',
      `Refused: ${actorName(actor)} may not ${action} (${String(notice.reason).slice(0, MAX_REASON_CHARS)})`,
      {
        refused: action,
        actor: actor.id,
      },
    );
  }
}

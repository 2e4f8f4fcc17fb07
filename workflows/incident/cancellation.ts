/**
 * Cancellation by a person (`cancelUpdate`, from `/incident cancel` or `firebreak cancel`): the
 * runbook's steps and the wait for resolution run in one cancellation scope, which the update
 * cancels. Changes already sent still settle (proxies.ts), the lifecycle withdraws pending gates,
 * restores the mitigations and resolves the pages as for any close. Only approvers may cancel once
 * approvers are configured: cancelling withdraws their gates and undoes mitigations.
 */
import { ApplicationFailure, CancellationScope } from '@temporalio/workflow';
import { ErrorType } from '../../common/errors';
import type { IncidentRecord } from '../../common/types';
import { isAuthorized } from '../../domain/gates';
import type { CancelRequest } from '../../domain/messages';
import { isClosed } from '../../domain/record';
import { actorName, now, type IncidentState } from './state';

/** Longest reason kept on the record: the record is bounded whatever people type. */
const MAX_REASON_CHARS = 500;

export class Cancellation {
  private readonly scope = new CancellationScope();
  request?: CancelRequest;

  constructor(private readonly state: IncidentState<unknown>) {}

  /** Runs the runbook (and the wait after it) so that a cancel request can stop it. */
  run<T>(body: () => Promise<T>): Promise<T> {
    return this.scope.run(body);
  }

  /** cancelUpdate's validator: throws before anything reaches history. */
  check(request: CancelRequest): void {
    const { record, policy } = this.state;
    if (isClosed(record) || record.closedAt !== undefined) {
      throw ApplicationFailure.nonRetryable(
        `incident ${record.id} is already ${record.status}`,
        ErrorType.INCIDENT_CLOSED,
      );
    }
    if (!isAuthorized(request.actor, policy.approvers)) {
      throw ApplicationFailure.nonRetryable(
        `${actorName(request.actor)} may not cancel incident ${record.id}: only approvers may`,
        ErrorType.UNAUTHORIZED,
      );
    }
  }

  /** A second cancel while the first is taking effect changes nothing and answers the same. */
  cancel(request: CancelRequest): IncidentRecord {
    const record = this.state.record;
    if (this.request) return record;
    const reason = request.reason?.trim().slice(0, MAX_REASON_CHARS) || undefined;
    this.request = { ...request, ...(reason ? { reason } : {}) };
    record.cancellation = {
      by: request.actor,
      at: now(),
      restoreNow: request.restoreNow === true,
      ...(reason ? { reason } : {}),
    };
    this.state.note('note', `Cancellation requested by ${actorName(request.actor)}${reason ? `: ${reason}` : ''}`, {
      actor: request.actor.id,
      restoreNow: request.restoreNow === true,
    });
    this.scope.cancel();
    return record;
  }

  /** The outcome on the card, in the thread and in the postmortem. */
  outcome(): string {
    const request = this.request;
    if (!request) return 'Cancelled by a human: remediation stopped';
    const why = request.reason ? `: ${request.reason}` : '';
    return `Cancelled by ${actorName(request.actor)}${why} — remediation stopped`;
  }
}

/**
 * One remediation per deployment: before its runbook's steps an incident claims the hold of each
 * deployment it may change (workflows/hold.ts), in a fixed order so two incidents never deadlock.
 * While another incident holds one, this incident changes nothing: it names the holder on its card
 * and in its thread, keeps its escalation clock running, and waits until the holder closes — or an
 * approver forces it through the `force-through` gate. The holds are released when it closes.
 */
import { condition, isCancellation, patched, workflowInfo } from '@temporalio/workflow';
import { ErrorType } from '../../common/errors';
import { formatTarget } from '../../common/ids';
import type { Target } from '../../common/types';
import type { HoldClaim, HoldNotice, IncidentHold } from '../../domain/hold';
import { RunbookStopped, type Approvals } from './approvals';
import { failureMessage } from './failures';
import { DEPLOYMENT_HOLD, FIRST_ACTION_FIRST, HOLD_ANSWERED_AT_ONCE } from './patches';
import { holdCalls, holdClaim, holdStart } from './proxies';
import { actorName, now, type IncidentState } from './state';

export const FORCE_THROUGH_GATE = 'force-through';

export class DeploymentHolds {
  constructor(
    private readonly state: IncidentState<unknown>,
    private readonly approvals: Approvals,
  ) {}

  private get holds(): IncidentHold[] {
    return (this.state.record.holds ??= []);
  }

  /**
   * Whether this incident claims holds (not when it began on code before them). Asked before
   * awaiting acquire() or release(): even an await of nothing would reorder the commands of
   * incidents that replay without holds.
   */
  get enabled(): boolean {
    return (this.state.record.holds?.length ?? 0) > 0 || patched(DEPLOYMENT_HOLD);
  }

  /** Claims every target's hold in order and returns once each is held or forced. */
  async acquire(): Promise<void> {
    const record = this.state.record;
    const byName = new Map([record.target, ...record.targets].map((t) => [formatTarget(t), t] as const));
    const ordered = [...byName].sort(([a], [b]) => a.localeCompare(b));
    const workflowId = workflowInfo().workflowId;
    const claims = ordered.map(([, target]) => ({ target, workflowId, incidentId: this.state.id }));
    const actFirst = patched(FIRST_ACTION_FIRST);
    const claimed = (target: Target) => {
      let hold = this.find(target);
      if (!hold) {
        hold = { target, state: 'claimed', since: now() };
        this.holds.push(hold);
      }
      return hold;
    };
    if (actFirst) claims.forEach(({ target }) => claimed(target));
    // Deployments nobody holds are granted by one local start each; the first held one and those
    // after it are claimed one by one, in the same order, as before.
    const free = actFirst ? await this.claimFree(claims) : 0;
    for (const [index, [name, target]] of ordered.entries()) {
      const hold = claimed(target);
      const claim = claims[index]!;
      if (index < free) {
        this.onNotice({ kind: 'granted', target });
      } else if (actFirst) {
        const answer =
          index > free && (await this.claimFree([claim])) === 1
            ? ({ kind: 'granted', target } as const)
            : await holdClaim.requestHold(claim);
        if (answer) this.onNotice(answer);
      } else if (patched(HOLD_ANSWERED_AT_ONCE)) {
        const answer = await holdClaim.requestHold(claim);
        if (answer) this.onNotice(answer);
      } else {
        await holdCalls.claimHold(claim);
      }
      await this.waitFor(hold, name);
    }
  }

  /** How many of these claims, in order, the local start of their free holds granted; a failed start grants none. */
  private async claimFree(claims: (HoldClaim & { target: Target })[]): Promise<number> {
    try {
      return await holdStart.claimFreeHolds(claims);
    } catch (err) {
      if (isCancellation(err)) throw err;
      return 0;
    }
  }

  /** The hold's answers: granted, waiting behind a holder, or waited on by another incident. */
  onNotice(notice: HoldNotice): void {
    const hold = this.find(notice.target);
    if (!hold || hold.state === 'released') return;
    const name = formatTarget(notice.target);
    if (notice.kind === 'granted') {
      if (hold.state === 'held') return;
      const previous = hold.holder;
      hold.state = 'held';
      hold.since = now();
      this.state.note('note', `Holding ${name}${previous ? ` (incident ${previous.incidentId} released it)` : ''}`, {
        hold: name,
        state: 'held',
      });
    } else if (notice.kind === 'waiting') {
      if (hold.state !== 'claimed' && hold.holder?.workflowId === notice.holder.workflowId) return;
      if (hold.state === 'claimed') hold.state = 'waiting';
      hold.holder = notice.holder;
      this.state.note(
        'note',
        `${name} is held by incident ${notice.holder.incidentId} (${notice.holder.workflowId}): this incident changes nothing until it closes, or an approver forces it through`,
        { hold: name, state: 'waiting', holder: notice.holder.incidentId, holderWorkflowId: notice.holder.workflowId },
      );
    } else {
      const waiters = (hold.waiters ??= []);
      if (waiters.some((w) => w.workflowId === notice.waiter.workflowId) || waiters.length >= 20) return;
      waiters.push(notice.waiter);
      this.state.note('note', `Incident ${notice.waiter.incidentId} waits for this incident to release ${name}`, {
        hold: name,
        waiter: notice.waiter.incidentId,
        waiterWorkflowId: notice.waiter.workflowId,
      });
    }
    // A wait is news for the channel at once, even while the courier waits for the runbook to act.
    if (notice.kind === 'waiting') this.state.slack.go();
    this.state.slack.cardChanged();
  }

  /** At close, whatever happened: gives up held deployments and leaves queues. */
  async release(): Promise<void> {
    for (const hold of this.holds.filter((h) => h.state !== 'released')) {
      try {
        await holdCalls.releaseHold({
          target: hold.target,
          workflowId: workflowInfo().workflowId,
          incidentId: this.state.id,
        });
        hold.state = 'released';
        hold.since = now();
      } catch (err) {
        // The hold checks its holder for life, so a failed release delays the next incident, never blocks it.
        this.state.note('failure', `Releasing ${formatTarget(hold.target)} failed: ${failureMessage(err)}`);
      }
    }
  }

  private async waitFor(hold: IncidentHold, name: string): Promise<void> {
    const { record, policy } = this.state;
    const closesAt = Date.parse(record.openedAt) + policy.maxOpenMs;
    const settled = () => hold.state === 'held' || hold.state === 'forced' || this.state.resolvedMeanwhile();
    while (!settled()) {
      const remaining = closesAt - Date.now();
      if (remaining <= 0) {
        // A slow answer from the hold is not another incident holding it: say which it was.
        const why =
          hold.state === 'waiting'
            ? `${name} was still held by incident ${hold.holder?.incidentId ?? '(unknown)'}`
            : `the claim on ${name} was still unanswered`;
        throw new RunbookStopped(
          'failed',
          `Closed unresolved at its maximum open time: ${why}`,
          ErrorType.APPROVAL_TIMED_OUT,
        );
      }
      await condition(() => settled() || hold.state === 'waiting', remaining);
      if (hold.state !== 'waiting') continue;
      if (record.gates.some((g) => g.name === FORCE_THROUGH_GATE)) {
        // Forced once, forced for every deployment of the incident; otherwise wait for the holder.
        if (record.gates.some((g) => g.name === FORCE_THROUGH_GATE && g.status === 'approved')) this.force(hold);
        else await condition(settled, Math.max(1, closesAt - Date.now()));
        continue;
      }
      const gate = await this.approvals.ask({
        name: FORCE_THROUGH_GATE,
        prompt: `${name} is held by incident ${hold.holder?.incidentId ?? '?'}. Act on it anyway, at the same time?`,
        fourEyes: false,
        deadlineMs: Math.max(1, closesAt - Date.now()),
        escalateAfterMs: null,
        withdrawWhen: { moot: () => hold.state === 'held', because: `${name} was released to this incident` },
      });
      if (gate.status === 'approved') {
        this.force(hold);
        this.state.note('note', `Forced through by ${actorName(gate.decidedBy)}: acting on ${name} while it is held`, {
          hold: name,
          state: 'forced',
        });
      }
    }
    if (this.state.resolvedMeanwhile() && hold.state !== 'held' && hold.state !== 'forced') {
      throw new RunbookStopped('cancelled', `Resolved while waiting for ${name}`, ErrorType.APPROVAL_REJECTED);
    }
  }

  private force(hold: IncidentHold): void {
    if (hold.state === 'held') return;
    hold.state = 'forced';
    hold.since = now();
    this.state.slack.cardChanged();
  }

  private find(target: Target): IncidentHold | undefined {
    const name = formatTarget(target);
    return this.holds.find((h) => formatTarget(h.target) === name);
  }
}

/**
 * The lifecycle every runbook workflow shares: open the incident (search attributes, the Slack
 * courier, the escalation watch), run the runbook's steps, wait for resolution (continuing as new
 * when the history grows long), offer restoring the mitigations, close. Runbook workflows only
 * say what to do (incident.ts is all they see).
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  log,
  patched,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { SearchAttributePair } from '@temporalio/common';
import { formatTarget } from '../../common/ids';
import { incidentIdKey, runbookKey, severityKey, statusKey, targetKey } from '../../common/search-attributes';
import type { IncidentRecord } from '../../common/types';
import {
  acknowledgeUpdate,
  alertSignal,
  alertsSignal,
  foldsAlertBatchesQuery,
  cancelUpdate,
  decideUpdate,
  refusedSignal,
  resolveSignal,
  statusQuery,
} from '../../domain/messages';
import { fitRecord } from '../../domain/payload';
import { holdNoticeSignal } from '../../domain/hold';
import { isClosed } from '../../domain/record';
import { AccessGuard } from './access';
import { notePreviousRun, receiveAlertBatch, receiveAlerts } from './alerts';
import { Approvals, RunbookStopped } from './approvals';
import { Cancellation } from './cancellation';
import { Escalation } from './escalation';
import { describeFailure, failureMessage } from './failures';
import { historyIsLong } from './history';
import { DeploymentHolds } from './holds';
import { RunbookIncident } from './incident';
import type { Incident } from './incident';
import { MitigationLedger } from './ledger';
import { FIRST_ACTION_FIRST } from './patches';
import { paging } from './proxies';
import { Rehearsal } from './rehearsal';
import { ResponsePlanWatch } from './response-plan';
import { IncidentState, actorName, now, type ResumableInput, type ResumeState } from './state';

/** What a runbook workflow does inside its incident. */
export type RunbookSteps<P> = (incident: Incident<P>) => Promise<void>;

/** Bounded wait for the Slack thread to catch up and handlers to finish before the result is returned. */
const DRAIN_MS = 10 * 60_000;

interface Loops {
  courier: Promise<void>;
  watch: Promise<void>;
}

/** The incident's result is its record. */
export async function runIncident<P>(input: ResumableInput<P>, steps: RunbookSteps<P>): Promise<IncidentRecord> {
  const lifecycle = new IncidentLifecycle(input);
  lifecycle.install();
  const loops = lifecycle.open();
  try {
    await lifecycle.cancellation.run(async () => {
      if (!input.resume) await lifecycle.runSteps(steps);
      await lifecycle.awaitResolution();
    });
  } catch (err) {
    if (!isCancellation(err)) throw err;
    lifecycle.cancelled();
  }
  await CancellationScope.nonCancellable(() => lifecycle.close(loops));
  return fitRecord(lifecycle.state.record);
}

class IncidentLifecycle<P> {
  readonly state: IncidentState<P>;
  private readonly escalation: Escalation;
  private readonly approvals: Approvals;
  private readonly ledger: MitigationLedger;
  private readonly holds: DeploymentHolds;
  private readonly rehearsal: Rehearsal;
  private readonly incident: RunbookIncident<P>;
  readonly cancellation: Cancellation;
  /** New incidents (patch FIRST_ACTION_FIRST): nothing the runbook does not need stands before its first action. */
  private actFirst = false;

  constructor(input: ResumableInput<P>) {
    this.state = new IncidentState(input);
    this.cancellation = new Cancellation(this.state);
    this.escalation = new Escalation(this.state);
    this.rehearsal = new Rehearsal(this.state);
    this.approvals = new Approvals(this.state, this.escalation, this.rehearsal);
    this.ledger = new MitigationLedger(this.state, this.approvals);
    this.holds = new DeploymentHolds(this.state, this.approvals);
    this.incident = new RunbookIncident(this.state, this.escalation, this.approvals, this.ledger, this.rehearsal);
  }

  /** Handlers are one-liners: the rules live with the part that owns them. */
  install(): void {
    const { state, approvals, cancellation, holds } = this;
    const access = new AccessGuard(state);
    setHandler(holdNoticeSignal, (notice) => holds.onNotice(notice));
    setHandler(statusQuery, () => fitRecord(state.record));
    setHandler(acknowledgeUpdate, (request) => fitRecord(state.acknowledge(request)), {
      validator: (request) => access.checkAcknowledge(request),
    });
    setHandler(decideUpdate, (request) => approvals.decide(request), {
      validator: (request) => void approvals.check(request),
    });
    setHandler(cancelUpdate, (request) => fitRecord(cancellation.cancel(request)), {
      validator: (request) => access.checkCancel(request, () => cancellation.check(request)),
    });
    setHandler(resolveSignal, (request) => access.resolve(request));
    setHandler(refusedSignal, (notice) => access.refused(notice));
    setHandler(alertSignal, (notification) => receiveAlerts(state, notification));
    setHandler(alertsSignal, (notifications) => receiveAlertBatch(state, notifications));
    setHandler(foldsAlertBatchesQuery, () => true);
  }

  open(): Loops {
    const { state } = this;
    const record = state.record;
    this.actFirst = !state.input.resume && patched(FIRST_ACTION_FIRST);
    const attributes: SearchAttributePair[] = [
      { key: runbookKey, value: record.runbook },
      { key: severityKey, value: record.severity },
      { key: statusKey, value: record.status },
      { key: targetKey, value: record.targets.map(formatTarget) },
      { key: incidentIdKey, value: record.id },
    ];
    // The start carries them (runbooks/index.ts): upserting the same values again is server work for nothing.
    const changed = this.actFirst ? attributes.filter((pair) => !startCarried(pair)) : attributes;
    if (changed.length > 0) upsertSearchAttributes(changed);
    if (!state.input.resume) {
      state.note('opened', `Incident ${record.id} opened: ${record.title}`, {
        runbook: record.runbook,
        severity: record.severity,
        trigger: record.trigger.kind,
      });
      notePreviousRun(state);
    }
    // The card and the thread follow the runbook's first action (or its grace period), never precede it.
    if (this.actFirst) state.slack.holdBack();
    // Slack delivery must outlive a cancellation: the thread has to say what happened.
    const courier = CancellationScope.nonCancellable(() => state.slack.run());
    // Ends by itself when the incident closes; it only reminds and pages, close() need not wait for it.
    void new ResponsePlanWatch(state, this.escalation).run();
    return { courier, watch: this.escalation.watchAcknowledgement() };
  }

  async runSteps(steps: RunbookSteps<P>): Promise<void> {
    const { state } = this;
    try {
      // A rehearsal never holds a deployment against a real incident; it says whether one would wait.
      if (this.actFirst) {
        // The holds are claimed beside the runbook's read-only steps; its first change or gate waits for them.
        const ready = this.rehearsal.enabled
          ? this.rehearsal.noteHolds()
          : this.holds.enabled
            ? this.holds.acquire()
            : Promise.resolve();
        const settled = ready.then(
          () => undefined,
          (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
        );
        this.incident.actAfter(settled, () => state.slack.go());
        await steps(this.incident);
        // A runbook that never acted still leaves with its claims settled (released at close).
        await this.incident.whenReady();
      } else {
        if (this.rehearsal.enabled) await this.rehearsal.noteHolds();
        else if (this.holds.enabled) await this.holds.acquire();
        await steps(this.incident);
      }
    } catch (err) {
      if (isCancellation(err)) throw err;
      if (err instanceof RunbookStopped && state.resolvedMeanwhile()) {
        state.note('note', 'Runbook stopped: the incident was resolved while it waited for a decision');
        return;
      }
      if (err instanceof RunbookStopped) {
        state.record.outcome = err.outcome;
        state.record.failure = { type: err.type, message: err.outcome };
        state.note(err.status === 'failed' ? 'failure' : 'note', err.outcome, { type: err.type });
        state.setStatus(err.status);
        return;
      }
      if (!(err instanceof ActivityFailure || err instanceof ApplicationFailure)) throw err;
      const failure = describeFailure(err);
      state.record.failure = failure;
      state.record.outcome = `Runbook step ${state.record.currentStep ?? ''} failed: ${failure.message}`;
      state.note('failure', state.record.outcome, failure);
      await this.escalation.escalate(`runbook step failed (${failure.type})`);
    } finally {
      state.slack.go();
    }
  }

  /** After the runbook's steps, the incident waits for humans (or its alerts) to resolve it. */
  async awaitResolution(): Promise<void> {
    const { state } = this;
    const record = state.record;
    if (isClosed(record)) return;
    // Nothing to resolve: a rehearsal changed nothing and paged nobody, so it ends with its steps.
    if (this.rehearsal.enabled) return this.rehearsal.finish();
    record.currentStep = 'waiting for resolution';
    state.slack.cardChanged();
    const openedAt = Date.parse(record.openedAt);
    const done = () => state.resolution !== undefined || state.alertsResolved() || historyIsLong();
    const remaining = openedAt + state.policy.maxOpenMs - Date.now();
    const settled = remaining > 0 && (await condition(done, remaining));
    if (state.resolution) {
      record.outcome = withRunbookOutcome(`Resolved by ${actorName(state.resolution.actor)}`, record.outcome);
      state.setStatus('resolved');
    } else if (state.alertsResolved()) {
      record.outcome = withRunbookOutcome('Resolved: every alert of the incident resolved', record.outcome);
      state.note('note', 'Every alert of the incident resolved');
      state.setStatus('resolved');
    } else if (settled) {
      await this.continueAsNew();
    } else {
      record.outcome = 'Closed unresolved: nobody resolved the incident within its maximum open time';
      state.note('failure', record.outcome);
      state.setStatus('failed');
    }
  }

  private async continueAsNew(): Promise<never> {
    const { state, escalation } = this;
    state.note('note', 'History is long: continuing as a new run', undefined, { post: false });
    state.slack.close();
    // A page still being sent must be known to the next run, which resolves it at the end.
    await condition(() => state.slack.done && escalation.pagesInFlight === 0 && allHandlersFinished(), DRAIN_MS);
    // A resolution that arrived while the thread caught up goes with the record, or it would be lost.
    // Measured before it goes: a record past the budget travels shortened, never refused by the server.
    const resume: ResumeState = {
      record: fitRecord(state.record),
      pagerDutyPaged: escalation.pagerDutyPaged,
      ...(state.resolution ? { resolution: state.resolution } : {}),
    };
    return continueAsNew<(input: ResumableInput<P>) => Promise<IncidentRecord>>({ ...state.input, resume });
  }

  /** Cancellation by a person: remediation has stopped; say who and why, and offer restoring what was changed. */
  cancelled(): void {
    const { state } = this;
    for (const gate of state.record.gates.filter((g) => g.status === 'pending')) {
      gate.status = 'rejected';
      gate.decidedAt = now();
      gate.comment = 'withdrawn: the incident was cancelled';
      state.slack.post({ kind: 'approval-closed', gate: gate.name });
    }
    state.record.outcome = this.cancellation.outcome();
    state.note('note', state.record.outcome);
    state.setStatus('cancelled');
  }

  async close(loops: Loops): Promise<void> {
    const { state } = this;
    const record = state.record;
    const cancel = this.cancellation.request;
    await this.ledger.offerRestoration(cancel?.restoreNow ? cancel.actor : undefined);
    if (this.state.record.holds?.length) await this.holds.release();
    // A page the escalation watch is still sending must land before deciding whether to resolve it.
    await loops.watch;
    if (this.escalation.pagerDutyPaged && record.status !== 'failed') {
      try {
        await paging.resolvePage({ incidentId: state.id });
      } catch (err) {
        state.note('failure', `Resolving the page failed: ${failureMessage(err)}`);
      }
    }
    record.closedAt = now();
    record.currentStep = undefined;
    state.slack.cardChanged();
    state.note('note', `Incident closed: ${record.status}${record.outcome ? ` — ${record.outcome}` : ''}`);
    state.slack.close();
    if (!(await condition(() => state.slack.done && allHandlersFinished(), DRAIN_MS))) {
      log.warn('Slack thread or message handlers did not finish in time', { incidentId: state.id });
    }
  }
}

/** Whether the workflow's start already carried this search attribute with this value. */
function startCarried(pair: SearchAttributePair): boolean {
  const carried: unknown = workflowInfo().typedSearchAttributes.get(pair.key);
  return JSON.stringify(carried) === JSON.stringify(pair.value);
}

/** How the incident ended, keeping what the runbook itself achieved (or not) for the postmortem. */
function withRunbookOutcome(resolution: string, runbookOutcome: string | undefined): string {
  return runbookOutcome ? `${resolution} (runbook: ${runbookOutcome})` : resolution;
}

/**
 * The incident kernel every runbook runs inside: state and timeline, escalation, approval gates,
 * the temporary-mitigation ledger and its restoration, alerts, search attributes and the Slack
 * card. Runbook workflows only say what to do; `runIncident` owns the lifecycle around them.
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
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { SlackMessageRef } from '../../activities/slack';
import { ErrorType } from '../../common/errors';
import type { IncidentInput } from '../../common/incident';
import { formatTarget } from '../../common/ids';
import { incidentIdKey, runbookKey, severityKey, statusKey, targetKey } from '../../common/search-attributes';
import type {
  GateState,
  IncidentRecord,
  IncidentStatus,
  Target,
  TimelineEntry,
  TimelineKind,
} from '../../common/types';
import {
  acknowledgeUpdate,
  alertSignal,
  decideUpdate,
  resolveSignal,
  statusQuery,
  type AcknowledgeRequest,
  type AlertNotification,
  type DecideRequest,
  type ResolveRequest,
} from '../../domain/messages';
import { RESTORE_GATE, checkDecision } from '../../domain/gates';
import { describeChange, mitigationKey, type MitigationChange, type MitigationRecord } from '../../domain/mitigations';
import { alertsAllResolved, isClosed, mergeAlerts } from '../../domain/record';
import { kubeChange, paging, rolloutWatcher, slack } from './proxies';

/** What a runbook workflow does inside its incident. */
export type RunbookSteps<P> = (incident: Incident<P>) => Promise<void>;

/** Carried across continue-as-new: the incident so far; the runbook's steps are already done. */
export interface ResumeState {
  record: IncidentRecord;
  pagerDutyPaged: boolean;
  resolution?: ResolveRequest;
}

export type ResumableInput<P> = IncidentInput<P> & { resume?: ResumeState };

export interface GateSpec {
  name: string;
  prompt: string;
  fourEyes: boolean;
  choices?: string[];
  /** Defaults to the policy's gateDeadlineMs. */
  deadlineMs?: number;
  /** Page the next tier when still undecided after this long; null = never. Defaults to policy. */
  escalateAfterMs?: number | null;
  /** A runbook gate is withdrawn when the incident is resolved meanwhile; the restore gate is not. */
  withdrawOnResolve?: boolean;
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

type SlackItem =
  | { kind: 'entry'; entry: TimelineEntry }
  | { kind: 'approval'; gate: string }
  | { kind: 'approval-closed'; gate: string }
  | { kind: 'escalation'; tier: string; mentions: string[]; text: string };

/** Bounded wait for the Slack thread to catch up and handlers to finish before the result is returned. */
const DRAIN_MS = 10 * 60_000;
const CARD_TIMELINE_ENTRIES = 5;

export class Incident<P> {
  readonly record: IncidentRecord;
  readonly input: ResumableInput<P>;
  private resolution?: ResolveRequest;
  private pagerDutyPaged = false;
  private pagesInFlight = 0;
  private readonly outbox: SlackItem[] = [];
  private cardDirty = true;
  private closing = false;
  private courierDone = false;
  private readonly approvalMessages = new Map<string, SlackMessageRef>();

  constructor(input: ResumableInput<P>) {
    this.input = input;
    if (input.resume) {
      this.record = input.resume.record;
      this.pagerDutyPaged = input.resume.pagerDutyPaged;
      this.resolution = input.resume.resolution;
      return;
    }
    const openedAt = now();
    this.record = {
      id: input.incidentId,
      runbook: input.runbook,
      title: input.title,
      target: input.target,
      targets: input.targets,
      severity: input.severity,
      status: 'open',
      trigger: input.trigger,
      openedAt,
      escalationTier: 0,
      gates: [],
      mitigations: [],
      alerts: [],
      alertsPartial: false,
      timeline: [],
    };
  }

  get params(): P {
    return this.input.params;
  }

  get policy() {
    return this.input.policy;
  }

  get id(): string {
    return this.record.id;
  }

  get target(): Target {
    return this.record.target;
  }

  /** Handlers are one-liners: the rules live in rules.ts and the methods below. */
  install(): void {
    setHandler(statusQuery, () => this.record);
    setHandler(acknowledgeUpdate, (request) => this.acknowledge(request), {
      validator: (request) => this.checkAcknowledge(request),
    });
    setHandler(decideUpdate, (request) => this.decide(request), {
      validator: (request) => void this.checkDecide(request),
    });
    setHandler(resolveSignal, (request) => this.requestResolution(request));
    setHandler(alertSignal, (notification) => this.onAlert(notification));
  }

  // ---- timeline and status -------------------------------------------------------------------

  /** Appends to the timeline and, unless told otherwise, posts the entry to the card's thread. */
  note(kind: TimelineKind, message: string, data?: Record<string, unknown>, options: { post?: boolean } = {}): void {
    const entry: TimelineEntry = { at: now(), kind, message, ...(data ? { data } : {}) };
    this.record.timeline.push(entry);
    log.info(message, { incidentId: this.id, kind });
    if (options.post !== false) this.outbox.push({ kind: 'entry', entry });
  }

  step(name: string, message?: string): void {
    this.record.currentStep = name;
    this.note('step', message ?? name, { step: name });
  }

  setStatus(status: IncidentStatus): void {
    if (this.record.status === status) return;
    this.record.status = status;
    const at = now();
    if (status === 'mitigated') this.record.mitigatedAt = at;
    if (status === 'resolved') this.record.resolvedAt = at;
    upsertSearchAttributes([{ key: statusKey, value: status }]);
    this.cardDirty = true;
    this.note('status', `Status: ${status}`, { status }, { post: false });
  }

  mitigated(message: string): void {
    this.record.outcome = message;
    this.note('step', message);
    if (!isClosed(this.record)) this.setStatus('mitigated');
  }

  /** The runbook did what it could and the service is still not right: say so, page, wait for humans. */
  async remediationFailed(message: string, type: ErrorType = ErrorType.UNHEALTHY_AFTER_REMEDIATION): Promise<void> {
    this.record.failure = { type, message };
    this.record.outcome = message;
    this.note('failure', message, { type });
    await this.escalate(message);
  }

  // ---- escalation -----------------------------------------------------------------------------

  /** Pages the next tier (the last one again once all have been paged). */
  async escalate(reason: string): Promise<void> {
    const tiers = this.policy.tiers;
    if (tiers.length === 0) {
      this.note('escalation', `${reason} — no escalation tier is configured`);
      return;
    }
    const index = Math.min(this.record.escalationTier, tiers.length - 1);
    const tier = tiers[index]!;
    this.record.escalationTier = index + 1;
    this.cardDirty = true;
    const text = `ESCALATION (${tier.name}): ${reason} — incident ${this.id}, ${this.record.title}`;
    this.note('escalation', text, { tier: tier.name, kind: tier.kind, reason }, { post: tier.kind !== 'slack' });
    if (tier.kind === 'slack') {
      this.outbox.push({ kind: 'escalation', tier: tier.name, mentions: tier.mentions, text });
      return;
    }
    this.pagesInFlight += 1;
    try {
      await paging.triggerPage({
        incidentId: this.id,
        summary: `${this.record.severity} ${this.record.title}: ${reason}`,
        severity: this.record.severity,
        source: formatTarget(this.target),
        details: { runbook: this.record.runbook, tier: tier.name, status: this.record.status },
      });
      this.pagerDutyPaged = true;
    } catch (err) {
      if (isCancellation(err)) throw err;
      this.note('failure', `Paging ${tier.name} failed: ${failureMessage(err)}`, { tier: tier.name });
    } finally {
      this.pagesInFlight -= 1;
    }
  }

  private async watchAcknowledgement(): Promise<void> {
    const settled = () => this.record.acknowledgedAt !== undefined || isClosed(this.record);
    try {
      let { wait, waited } = this.firstAcknowledgementWait();
      while (!(await condition(settled, wait))) {
        await this.escalate(`not acknowledged within ${waited}`);
        wait = this.policy.repageIntervalMs;
        waited = 'the re-page interval';
      }
      if (this.record.acknowledgedAt !== undefined && this.pagerDutyPaged && !isClosed(this.record)) {
        await paging.acknowledgePage({ incidentId: this.id });
      }
    } catch (err) {
      if (isCancellation(err)) return;
      this.note('failure', `Escalation watch failed: ${failureMessage(err)}`);
    }
  }

  /**
   * Measured from the incident's opening and its last page, not from this run's start: a run
   * continued as new must not grant the response time again.
   */
  private firstAcknowledgementWait(): { wait: number; waited: string } {
    const deadline = Date.parse(this.record.openedAt) + this.policy.ackDeadlineMs[this.record.severity];
    if (Date.now() < deadline)
      return { wait: deadline - Date.now(), waited: `the ${this.record.severity} response time` };
    const lastPage = this.record.timeline.findLast((entry) => entry.kind === 'escalation');
    const nextPage = (lastPage ? Date.parse(lastPage.at) : deadline) + this.policy.repageIntervalMs;
    return { wait: Math.max(1, nextPage - Date.now()), waited: 'the re-page interval' };
  }

  // ---- messages -------------------------------------------------------------------------------

  private checkAcknowledge(_request: AcknowledgeRequest): void {
    if (isClosed(this.record)) {
      throw ApplicationFailure.nonRetryable(`incident ${this.id} is ${this.record.status}`, ErrorType.INCIDENT_CLOSED);
    }
  }

  private acknowledge(request: AcknowledgeRequest): IncidentRecord {
    if (this.record.acknowledgedAt !== undefined) return this.record;
    this.record.acknowledgedAt = now();
    this.record.acknowledgedBy = request.actor;
    this.note('acknowledged', `Acknowledged by ${actorName(request.actor)}${request.note ? `: ${request.note}` : ''}`, {
      actor: request.actor.id,
    });
    if (this.record.status === 'open') this.setStatus('acknowledged');
    this.cardDirty = true;
    return this.record;
  }

  private checkDecide(request: DecideRequest): GateState {
    if (this.record.closedAt !== undefined) {
      throw ApplicationFailure.nonRetryable(`incident ${this.id} is closed`, ErrorType.INCIDENT_CLOSED);
    }
    return checkDecision(this.record, request, this.policy.approvers, this.input.triggeredBy);
  }

  private decide(request: DecideRequest): GateState {
    const gate = this.checkDecide(request);
    gate.status = request.decision === 'approve' ? 'approved' : 'rejected';
    gate.decidedBy = request.actor;
    gate.decidedAt = now();
    if (request.choice !== undefined) gate.choice = request.choice;
    if (request.comment !== undefined) gate.comment = request.comment;
    const choice = request.choice !== undefined ? ` (${request.choice})` : '';
    this.note('decision', `Gate ${gate.name} ${gate.status}${choice} by ${actorName(request.actor)}`, {
      gate: gate.name,
      decision: gate.status,
      actor: request.actor.id,
      ...(request.choice !== undefined ? { choice: request.choice } : {}),
    });
    this.outbox.push({ kind: 'approval-closed', gate: gate.name });
    return { ...gate };
  }

  private requestResolution(request: ResolveRequest): void {
    if (this.record.closedAt !== undefined || this.resolution) return;
    this.resolution = request;
    this.note('note', `Resolution requested by ${actorName(request.actor)}${request.note ? `: ${request.note}` : ''}`);
  }

  private onAlert(notification: AlertNotification): void {
    this.record.alertsPartial = notification.truncatedAlerts > 0;
    for (const alert of mergeAlerts(this.record.alerts, notification, now())) {
      const name = alert.labels.alertname ?? alert.fingerprint;
      this.note('alert', `Alert ${name} ${alert.status}`, { fingerprint: alert.fingerprint, status: alert.status });
    }
  }

  // ---- gates ----------------------------------------------------------------------------------

  /** Opens a gate and waits for a decision; a timeout escalates and never approves. */
  async askApproval(spec: GateSpec): Promise<GateState> {
    if (this.record.gates.some((gate) => gate.name === spec.name)) {
      throw ApplicationFailure.nonRetryable(`gate ${spec.name} was already asked`, ErrorType.INVALID_INPUT);
    }
    const openedAt = Date.now();
    const deadlineMs = spec.deadlineMs ?? this.policy.gateDeadlineMs;
    const escalateAfterMs = spec.escalateAfterMs === undefined ? this.policy.gateEscalateAfterMs : spec.escalateAfterMs;
    const gate: GateState = {
      name: spec.name,
      prompt: spec.prompt,
      status: 'pending',
      requestedAt: new Date(openedAt).toISOString(),
      deadline: new Date(openedAt + deadlineMs).toISOString(),
      fourEyes: spec.fourEyes,
      ...(spec.choices?.length ? { choices: spec.choices } : {}),
    };
    this.record.gates.push(gate);
    this.cardDirty = true;
    this.note('gate', `Approval needed (${spec.name}): ${spec.prompt}`, { gate: spec.name }, { post: false });
    this.outbox.push({ kind: 'approval', gate: spec.name });

    const withdrawn = () => spec.withdrawOnResolve !== false && this.resolvedMeanwhile();
    const settled = () => gate.status !== 'pending' || withdrawn();
    if (escalateAfterMs !== null && escalateAfterMs < deadlineMs && !(await condition(settled, escalateAfterMs))) {
      await this.escalate(`gate ${spec.name} is still waiting for a decision`);
    }
    const remaining = Math.max(1, openedAt + deadlineMs - Date.now());
    if (!(await condition(settled, remaining)) || (gate.status === 'pending' && withdrawn())) {
      const resolvedMeanwhile = gate.status === 'pending' && withdrawn();
      gate.status = resolvedMeanwhile ? 'rejected' : 'timed_out';
      gate.decidedAt = now();
      if (resolvedMeanwhile) gate.comment = 'withdrawn: the incident was resolved';
      this.note('gate', `Gate ${spec.name} ${resolvedMeanwhile ? 'withdrawn' : 'timed out without a decision'}`, {
        gate: spec.name,
        status: gate.status,
      });
      this.outbox.push({ kind: 'approval-closed', gate: spec.name });
    }
    this.cardDirty = true;
    return gate;
  }

  /** Resolution by a human, or by every alert resolving (a complete view), makes pending questions moot. */
  private resolvedMeanwhile(): boolean {
    return this.resolution !== undefined || (this.policy.resolveWhenAlertsResolve && alertsAllResolved(this.record));
  }

  /** A gate the runbook cannot go on without: rejection or timeout ends the runbook. */
  async requireApproval(spec: GateSpec, refusedOutcome: string): Promise<GateState> {
    const gate = await this.askApproval(spec);
    if (gate.status === 'approved') return gate;
    if (gate.status === 'timed_out') {
      throw new RunbookStopped('failed', `${refusedOutcome}: not approved in time`, ErrorType.APPROVAL_TIMED_OUT);
    }
    throw new RunbookStopped('cancelled', refusedOutcome, ErrorType.APPROVAL_REJECTED);
  }

  // ---- mitigation ledger ----------------------------------------------------------------------

  /** Records settings a remediation changed; a setting changed twice keeps its first previous value. */
  recordMitigations(target: Target, changes: MitigationChange[]): void {
    for (const change of changes) {
      const key = mitigationKey(target, change);
      const known = this.record.mitigations.find((m) => m.key === key && m.restoredAt === undefined);
      if (known) {
        known.change = { ...change, previous: known.change.previous } as MitigationChange;
        continue;
      }
      this.record.mitigations.push({ key, target, change, appliedAt: now() });
      this.note('mitigation', `Temporary mitigation on ${formatTarget(target)}: ${describeChange(change)}`, {
        key,
        previous: change.previous,
        applied: change.applied,
      });
    }
  }

  /**
   * Diagnostics inform, they do not gate: a failed probe becomes a warning on the timeline and the
   * runbook goes on without it.
   */
  async tryDiagnostic<T>(what: string, probe: () => Promise<T>): Promise<T | undefined> {
    try {
      return await probe();
    } catch (err) {
      if (isCancellation(err)) throw err;
      this.note('diagnostic', `Warning: ${what} failed: ${failureMessage(err)}`, { warning: what });
      return undefined;
    }
  }

  /** kubectl rollout status with the policy's deadline; a rollout that fails to progress is an answer, not an error. */
  async waitForRollout(target: Target): Promise<{ complete: boolean; message: string }> {
    const timeoutSeconds = this.policy.rolloutTimeoutSeconds;
    try {
      return await rolloutWatcher(timeoutSeconds).waitForRollout({ ...target, timeoutSeconds });
    } catch (err) {
      if (isCancellation(err) || !(err instanceof ActivityFailure)) throw err;
      return { complete: false, message: failureMessage(err) };
    }
  }

  hasMitigation(key: string): boolean {
    return this.record.mitigations.some((m) => m.key === key);
  }

  private async offerRestoration(): Promise<void> {
    const active = this.record.mitigations.filter((m) => m.restoredAt === undefined && m.restoreNote === undefined);
    if (active.length === 0) return;
    this.record.currentStep = 'restore mitigations';
    const list = active.map((m) => `${m.key} → ${String(m.change.previous ?? 'unset')}`).join('; ');
    const gate = await this.askApproval({
      name: RESTORE_GATE.name,
      prompt: `Restore ${active.length} temporary mitigation(s) to their previous values? ${list}`,
      fourEyes: false,
      deadlineMs: this.policy.restoreAfterMs,
      escalateAfterMs: null,
      withdrawOnResolve: false,
    });
    if (gate.status === 'rejected') {
      this.note('restoration', `Mitigations kept in place by ${actorName(gate.decidedBy)}`);
      return;
    }
    if (gate.status === 'timed_out') this.note('restoration', 'No decision: restoring mitigations as configured');
    // Reverse order: the last change made is the first undone, as a saga compensates.
    for (const mitigation of [...active].reverse()) await this.restore(mitigation);
  }

  /**
   * Reads the live value with a dry run first: if someone changed the setting since the
   * mitigation, their value wins and the skip is noted instead of silently overwritten.
   */
  private async restore(mitigation: MitigationRecord): Promise<void> {
    const marker = { ...mitigation.target, incidentId: `${this.id}:restore` };
    const change = mitigation.change;
    try {
      const current = await this.readCurrent(mitigation);
      if (current !== change.applied) {
        mitigation.restoreNote = `left as ${String(current ?? 'unset')}: changed since the mitigation set ${String(change.applied ?? 'unset')}`;
        this.note('restoration', `Not restoring ${mitigation.key}: ${mitigation.restoreNote}`, { key: mitigation.key });
        return;
      }
      if (change.kind === 'env') {
        await kubeChange.setDeploymentEnv({
          ...marker,
          container: change.container,
          env: { [change.name]: change.previous },
        });
      } else if (change.kind === 'replicas') {
        await kubeChange.scaleDeployment({ ...marker, replicas: change.previous });
      } else {
        await kubeChange.setContainerResources({
          ...marker,
          container: change.container,
          [change.field]: { [change.resource]: change.previous },
        });
      }
      mitigation.restoredAt = now();
      this.note('restoration', `Restored ${mitigation.key} to ${String(change.previous ?? 'unset')}`, {
        key: mitigation.key,
      });
    } catch (err) {
      mitigation.restoreNote = `restore failed: ${failureMessage(err)}`;
      this.note('failure', `Restoring ${mitigation.key} failed: ${failureMessage(err)}`, { key: mitigation.key });
    }
  }

  private async readCurrent(mitigation: MitigationRecord): Promise<string | number | null> {
    const probe = { ...mitigation.target, incidentId: `${this.id}:restore`, dryRun: true };
    const change = mitigation.change;
    if (change.kind === 'env') {
      const result = await kubeChange.setDeploymentEnv({
        ...probe,
        container: change.container,
        env: { [change.name]: change.previous },
      });
      return result.previous[change.name] ?? null;
    }
    if (change.kind === 'replicas') {
      return (await kubeChange.scaleDeployment({ ...probe, replicas: change.previous })).previousReplicas;
    }
    const result = await kubeChange.setContainerResources({
      ...probe,
      container: change.container,
      [change.field]: { [change.resource]: change.previous },
    });
    return result.previous[change.field][change.resource] ?? null;
  }

  // ---- lifecycle ------------------------------------------------------------------------------

  open(): { courier: Promise<void>; watch: Promise<void> } {
    upsertSearchAttributes([
      { key: runbookKey, value: this.record.runbook },
      { key: severityKey, value: this.record.severity },
      { key: statusKey, value: this.record.status },
      { key: targetKey, value: this.record.targets.map(formatTarget) },
      { key: incidentIdKey, value: this.record.id },
    ]);
    if (!this.input.resume) {
      this.note('opened', `Incident ${this.id} opened: ${this.record.title}`, {
        runbook: this.record.runbook,
        severity: this.record.severity,
        trigger: this.record.trigger.kind,
      });
    }
    // Slack delivery must outlive a cancellation: the thread has to say what happened.
    const courier = CancellationScope.nonCancellable(() => this.deliverSlack());
    return { courier, watch: this.watchAcknowledgement() };
  }

  async runSteps(steps: RunbookSteps<P>): Promise<void> {
    try {
      await steps(this);
    } catch (err) {
      if (isCancellation(err)) throw err;
      if (err instanceof RunbookStopped && this.resolvedMeanwhile()) {
        this.note('note', 'Runbook stopped: the incident was resolved while it waited for a decision');
        return;
      }
      if (err instanceof RunbookStopped) {
        this.record.outcome = err.outcome;
        this.record.failure = { type: err.type, message: err.outcome };
        this.note(err.status === 'failed' ? 'failure' : 'note', err.outcome, { type: err.type });
        this.setStatus(err.status);
        return;
      }
      if (!(err instanceof ActivityFailure || err instanceof ApplicationFailure)) throw err;
      const failure = describeFailure(err);
      this.record.failure = failure;
      this.record.outcome = `Runbook step ${this.record.currentStep ?? ''} failed: ${failure.message}`;
      this.note('failure', this.record.outcome, failure);
      await this.escalate(`runbook step failed (${failure.type})`);
    }
  }

  /** After the runbook's steps, the incident waits for humans (or its alerts) to resolve it. */
  async awaitResolution(): Promise<void> {
    if (isClosed(this.record)) return;
    this.record.currentStep = 'waiting for resolution';
    this.cardDirty = true;
    const openedAt = Date.parse(this.record.openedAt);
    const alertsResolved = () => this.policy.resolveWhenAlertsResolve && alertsAllResolved(this.record);
    const done = () => this.resolution !== undefined || alertsResolved() || workflowInfo().continueAsNewSuggested;
    const remaining = openedAt + this.policy.maxOpenMs - Date.now();
    const settled = remaining > 0 && (await condition(done, remaining));
    if (this.resolution) {
      this.record.outcome = withRunbookOutcome(`Resolved by ${actorName(this.resolution.actor)}`, this.record.outcome);
      this.setStatus('resolved');
    } else if (alertsResolved()) {
      this.record.outcome = withRunbookOutcome('Resolved: every alert of the incident resolved', this.record.outcome);
      this.note('note', 'Every alert of the incident resolved');
      this.setStatus('resolved');
    } else if (settled) {
      await this.continueAsNew();
    } else {
      this.record.outcome = 'Closed unresolved: nobody resolved the incident within its maximum open time';
      this.note('failure', this.record.outcome);
      this.setStatus('failed');
    }
  }

  private async continueAsNew(): Promise<never> {
    this.note('note', 'History is long: continuing as a new run', undefined, { post: false });
    this.closing = true;
    // A page still being sent must be known to the next run, which resolves it at the end.
    await condition(() => this.courierDone && this.pagesInFlight === 0 && allHandlersFinished(), DRAIN_MS);
    // A resolution that arrived while the thread caught up goes with the record, or it would be lost.
    const resume: ResumeState = {
      record: this.record,
      pagerDutyPaged: this.pagerDutyPaged,
      ...(this.resolution ? { resolution: this.resolution } : {}),
    };
    return continueAsNew<(input: ResumableInput<P>) => Promise<IncidentRecord>>({ ...this.input, resume });
  }

  /** Cancellation by a human: remediation has stopped; say so and offer restoring what was changed. */
  cancelled(): void {
    for (const gate of this.record.gates.filter((g) => g.status === 'pending')) {
      gate.status = 'rejected';
      gate.decidedAt = now();
      gate.comment = 'withdrawn: the incident was cancelled';
      this.outbox.push({ kind: 'approval-closed', gate: gate.name });
    }
    this.record.outcome = 'Cancelled by a human: remediation stopped';
    this.note('note', this.record.outcome);
    this.setStatus('cancelled');
  }

  async close(loops: { courier: Promise<void>; watch: Promise<void> }): Promise<void> {
    await this.offerRestoration();
    // A page the escalation watch is still sending must land before deciding whether to resolve it.
    await loops.watch;
    if (this.pagerDutyPaged && this.record.status !== 'failed') {
      try {
        await paging.resolvePage({ incidentId: this.id });
      } catch (err) {
        this.note('failure', `Resolving the page failed: ${failureMessage(err)}`);
      }
    }
    this.record.closedAt = now();
    this.record.currentStep = undefined;
    this.cardDirty = true;
    this.note(
      'note',
      `Incident closed: ${this.record.status}${this.record.outcome ? ` — ${this.record.outcome}` : ''}`,
    );
    this.closing = true;
    if (!(await condition(() => this.courierDone && allHandlersFinished(), DRAIN_MS))) {
      log.warn('Slack thread or message handlers did not finish in time', { incidentId: this.id });
    }
  }

  // ---- Slack ----------------------------------------------------------------------------------

  /** One courier, so the card comes first, the thread stays in order and remediation never waits on Slack. */
  private async deliverSlack(): Promise<void> {
    // Ends when the incident closes; the workflow's own waits carry the deadlines.
    for (;;) {
      await condition(() => this.outbox.length > 0 || this.cardDirty || this.closing);
      if (this.cardDirty) {
        this.cardDirty = false;
        await this.publishCard();
        continue;
      }
      const item = this.outbox.shift();
      if (!item) break;
      await this.deliver(item).catch((err: unknown) =>
        log.warn('Slack delivery failed', { incidentId: this.id, item: item.kind, error: failureMessage(err) }),
      );
    }
    this.courierDone = true;
  }

  private async publishCard(): Promise<void> {
    try {
      const card = { ...this.record, timeline: this.record.timeline.slice(-CARD_TIMELINE_ENTRIES) };
      this.record.slack = await slack.publishIncidentCard({
        incident: card,
        ref: this.record.slack,
        ...(this.input.slackChannel ? { channel: this.input.slackChannel } : {}),
      });
    } catch (err) {
      log.warn('Publishing the incident card failed', { incidentId: this.id, error: failureMessage(err) });
    }
  }

  private async deliver(item: SlackItem): Promise<void> {
    const ref = this.record.slack;
    if (item.kind === 'entry') {
      await slack.postTimelineEntry({ incidentId: this.id, ref, entry: item.entry });
    } else if (item.kind === 'escalation') {
      await slack.postEscalation({
        incidentId: this.id,
        ref,
        tier: item.tier,
        mentions: item.mentions,
        text: item.text,
      });
    } else {
      const gate = this.record.gates.find((g) => g.name === item.gate);
      if (!gate) return;
      if (item.kind === 'approval') {
        if (gate.status !== 'pending') return;
        const request = await slack.postApprovalRequest({ incidentId: this.id, ref, gate });
        if (request) this.approvalMessages.set(gate.name, request);
      } else if (this.approvalMessages.has(gate.name)) {
        await slack.closeApprovalRequest({ incidentId: this.id, request: this.approvalMessages.get(gate.name), gate });
      }
    }
  }
}

/**
 * The lifecycle every runbook workflow shares: open, run the steps, wait for resolution, restore
 * mitigations, close. The result is the incident record.
 */
export async function runIncident<P>(input: ResumableInput<P>, steps: RunbookSteps<P>): Promise<IncidentRecord> {
  const incident = new Incident(input);
  incident.install();
  const loops = incident.open();
  try {
    if (!input.resume) await incident.runSteps(steps);
    await incident.awaitResolution();
  } catch (err) {
    if (!isCancellation(err)) throw err;
    incident.cancelled();
  }
  await CancellationScope.nonCancellable(() => incident.close(loops));
  return incident.record;
}

function now(): string {
  return new Date().toISOString();
}

/** How the incident ended, keeping what the runbook itself achieved (or not) for the postmortem. */
function withRunbookOutcome(resolution: string, runbookOutcome: string | undefined): string {
  return runbookOutcome ? `${resolution} (runbook: ${runbookOutcome})` : resolution;
}

function actorName(actor: { id: string; name?: string } | undefined): string {
  return actor ? (actor.name ?? actor.id) : 'nobody';
}

export function failureMessage(err: unknown): string {
  if (err instanceof ActivityFailure && err.cause) return err.cause.message;
  return err instanceof Error ? err.message : String(err);
}

function describeFailure(err: ActivityFailure | ApplicationFailure): { type: string; message: string } {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) return { type: cause.type ?? 'ApplicationFailure', message: cause.message };
  return { type: cause?.name ?? 'ActivityFailure', message: cause?.message ?? err.message };
}

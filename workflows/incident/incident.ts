/**
 * What a runbook sees of its incident: the steps it may take — timeline, gates, mitigations,
 * diagnostics, rollout waits — and nothing of the lifecycle around them (lifecycle.ts).
 */
import { ActivityFailure, isCancellation } from '@temporalio/workflow';
import type { EvidenceRef } from '../../activities/evidence';
import type { ErrorType } from '../../common/errors';
import type { IncidentPolicy } from '../../common/incident';
import type { GateState, IncidentRecord, Target, TimelineKind } from '../../common/types';
import type { MitigationChange } from '../../domain/mitigations';
import type { Approvals, GateSpec } from './approvals';
import type { Escalation } from './escalation';
import { failureMessage } from './failures';
import type { MitigationLedger } from './ledger';
import { rolloutWatcher, type KubernetesChanges } from './proxies';
import type { Rehearsal } from './rehearsal';
import type { IncidentState } from './state';

export interface Incident<P> {
  readonly id: string;
  readonly target: Target;
  readonly params: P;
  readonly policy: IncidentPolicy;
  readonly record: Readonly<IncidentRecord>;
  /**
   * The Kubernetes changes the runbook makes (each takes the incident id as its marker). In a
   * rehearsal each goes as a server-side dry run and becomes a would-be change on the timeline.
   */
  readonly changes: KubernetesChanges;
  /** A rehearsal (`--dry-run`): nothing changes, nobody is paged, nothing is restored. */
  readonly rehearsal: boolean;
  /**
   * In a rehearsal, notes that `what` (a rollout wait, a verification window: anything that judges
   * a change) is skipped and returns true; in a real run returns false and does nothing.
   */
  skipsInRehearsal(what: string): boolean;
  /** Names the current step and puts it on the timeline. */
  step(name: string, message?: string): void;
  note(kind: TimelineKind, message: string, data?: Record<string, unknown>): void;
  /** The runbook's changes took effect: status mitigated, with this outcome. */
  mitigated(message: string): void;
  /** The runbook did what it could and the service is still not right: say so, page, wait for humans. */
  remediationFailed(message: string, type?: ErrorType): Promise<void>;
  /** Pages the next escalation tier now, with this reason (runbook files' `page` step). */
  page(reason: string): Promise<void>;
  /** Opens a gate and waits for a decision; a timeout escalates and never approves. */
  askApproval(spec: GateSpec): Promise<GateState>;
  /** A gate the runbook cannot go on without: rejection or timeout ends the runbook. */
  requireApproval(spec: GateSpec, refusedOutcome: string): Promise<GateState>;
  /** Records settings a remediation changed; restored when the incident ends. A rehearsal records nothing. */
  recordMitigations(target: Target, changes: MitigationChange[]): void;
  /** Whether the ledger holds this key (domain/mitigations.ts mitigationKey). */
  hasMitigation(key: string): boolean;
  /** Diagnostics inform, they do not gate: a failed probe becomes a warning and the runbook goes on. */
  tryDiagnostic<T>(what: string, probe: () => Promise<T>): Promise<T | undefined>;
  /** Posts a stored artefact to the card's thread as a file, in thread order; a failed upload is logged, never blocks. */
  shareEvidence(artefact: EvidenceRef, comment: string): void;
  /** kubectl rollout status with the policy's deadline; a rollout that fails to progress is an answer, not an error. */
  waitForRollout(target: Target): Promise<{ complete: boolean; message: string }>;
}

/**
 * Hands each call to the part of the kernel that owns it; adds no await of its own, except that,
 * once the lifecycle says what the runbook must wait for before acting (actAfter: the deployment
 * holds), the first change and the first gate wait for it.
 */
export class RunbookIncident<P> implements Incident<P> {
  /** Settles once the runbook may act; holds the error that stops it from acting, if any. */
  private ready?: Promise<unknown>;
  private acting?: () => void;
  private guardedChanges?: KubernetesChanges;

  constructor(
    private readonly state: IncidentState<P>,
    private readonly escalation: Escalation,
    private readonly approvals: Approvals,
    private readonly ledger: MitigationLedger,
    private readonly rehearsing: Rehearsal,
  ) {}

  get changes(): KubernetesChanges {
    return this.guardedChanges ?? this.rehearsing.changes;
  }

  /**
   * Changes and gates wait for `ready` (which must not reject: it resolves to the error that stops
   * the runbook, or to anything else), and each calls `acting` first. Read-only steps do not wait.
   */
  actAfter(ready: Promise<unknown>, acting: () => void): void {
    this.ready = ready;
    this.acting = acting;
    const changes = this.rehearsing.changes;
    const beforeActing = () => this.beforeActing();
    this.guardedChanges = new Proxy(changes, {
      get(target, name, receiver) {
        const call: unknown = Reflect.get(target, name, receiver);
        if (typeof call !== 'function') return call;
        return async (...args: unknown[]) => {
          await beforeActing();
          return (call as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        };
      },
    });
  }

  /** Settles with the runbook's readiness to act: throws what stopped it, if anything did. */
  async whenReady(): Promise<void> {
    if (!this.ready) return;
    const outcome = await this.ready;
    if (outcome instanceof Error) throw outcome;
  }

  /** Waits until the runbook may act; throws what stopped it (a hold never granted). */
  private async beforeActing(): Promise<void> {
    const outcome = await this.ready;
    this.acting?.();
    if (outcome instanceof Error) throw outcome;
  }

  get rehearsal(): boolean {
    return this.rehearsing.enabled;
  }

  skipsInRehearsal(what: string): boolean {
    return this.rehearsing.skips(what);
  }

  get id(): string {
    return this.state.id;
  }

  get target(): Target {
    return this.state.target;
  }

  get params(): P {
    return this.state.params;
  }

  get policy(): IncidentPolicy {
    return this.state.policy;
  }

  get record(): Readonly<IncidentRecord> {
    return this.state.record;
  }

  step(name: string, message?: string): void {
    this.state.step(name, message);
  }

  note(kind: TimelineKind, message: string, data?: Record<string, unknown>): void {
    this.state.note(kind, message, data);
  }

  mitigated(message: string): void {
    // Nothing changed, so nothing is claimed: the rehearsal only says what a real run would report.
    if (this.rehearsing.enabled) this.state.note('step', `A real run would now report: ${message}`);
    else this.state.mitigated(message);
  }

  remediationFailed(message: string, type?: ErrorType): Promise<void> {
    return this.escalation.remediationFailed(message, type);
  }

  page(reason: string): Promise<void> {
    return this.escalation.escalate(reason);
  }

  askApproval(spec: GateSpec): Promise<GateState> {
    if (!this.ready) return this.approvals.ask(spec);
    return this.beforeActing().then(() => this.approvals.ask(spec));
  }

  requireApproval(spec: GateSpec, refusedOutcome: string): Promise<GateState> {
    if (!this.ready) return this.approvals.require(spec, refusedOutcome);
    return this.beforeActing().then(() => this.approvals.require(spec, refusedOutcome));
  }

  recordMitigations(target: Target, changes: MitigationChange[]): void {
    // A dry run changed nothing: there is nothing to restore (its would-be changes are on the timeline).
    if (!this.rehearsing.enabled) this.ledger.record(target, changes);
  }

  hasMitigation(key: string): boolean {
    return this.ledger.has(key);
  }

  async tryDiagnostic<T>(what: string, probe: () => Promise<T>): Promise<T | undefined> {
    try {
      return await probe();
    } catch (err) {
      if (isCancellation(err)) throw err;
      this.state.note('diagnostic', `Warning: ${what} failed: ${failureMessage(err)}`, { warning: what });
      return undefined;
    }
  }

  shareEvidence(artefact: EvidenceRef, comment: string): void {
    this.state.slack.post({ kind: 'evidence', artefact, comment });
  }

  async waitForRollout(target: Target): Promise<{ complete: boolean; message: string }> {
    const timeoutSeconds = this.state.policy.rolloutTimeoutSeconds;
    try {
      return await rolloutWatcher(timeoutSeconds).waitForRollout({ ...target, timeoutSeconds });
    } catch (err) {
      if (isCancellation(err) || !(err instanceof ActivityFailure)) throw err;
      return { complete: false, message: failureMessage(err) };
    }
  }
}

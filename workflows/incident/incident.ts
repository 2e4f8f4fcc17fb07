/**
 * What a runbook sees of its incident: the steps it may take — timeline, gates, mitigations,
 * diagnostics, rollout waits — and nothing of the lifecycle around them (lifecycle.ts).
 */
import { ActivityFailure, isCancellation } from '@temporalio/workflow';
import type { ErrorType } from '../../common/errors';
import type { IncidentPolicy } from '../../common/incident';
import type { GateState, IncidentRecord, Target, TimelineKind } from '../../common/types';
import type { MitigationChange } from '../../domain/mitigations';
import type { Approvals, GateSpec } from './approvals';
import type { Escalation } from './escalation';
import { failureMessage } from './failures';
import type { MitigationLedger } from './ledger';
import { rolloutWatcher } from './proxies';
import type { IncidentState } from './state';

export interface Incident<P> {
  readonly id: string;
  readonly target: Target;
  readonly params: P;
  readonly policy: IncidentPolicy;
  readonly record: Readonly<IncidentRecord>;
  /** Names the current step and puts it on the timeline. */
  step(name: string, message?: string): void;
  note(kind: TimelineKind, message: string, data?: Record<string, unknown>): void;
  /** The runbook's changes took effect: status mitigated, with this outcome. */
  mitigated(message: string): void;
  /** The runbook did what it could and the service is still not right: say so, page, wait for humans. */
  remediationFailed(message: string, type?: ErrorType): Promise<void>;
  /** Opens a gate and waits for a decision; a timeout escalates and never approves. */
  askApproval(spec: GateSpec): Promise<GateState>;
  /** A gate the runbook cannot go on without: rejection or timeout ends the runbook. */
  requireApproval(spec: GateSpec, refusedOutcome: string): Promise<GateState>;
  /** Records settings a remediation changed; restored when the incident ends. */
  recordMitigations(target: Target, changes: MitigationChange[]): void;
  /** Whether the ledger holds this key (domain/mitigations.ts mitigationKey). */
  hasMitigation(key: string): boolean;
  /** Diagnostics inform, they do not gate: a failed probe becomes a warning and the runbook goes on. */
  tryDiagnostic<T>(what: string, probe: () => Promise<T>): Promise<T | undefined>;
  /** kubectl rollout status with the policy's deadline; a rollout that fails to progress is an answer, not an error. */
  waitForRollout(target: Target): Promise<{ complete: boolean; message: string }>;
}

/** Hands each call to the part of the kernel that owns it; adds no await of its own. */
export class RunbookIncident<P> implements Incident<P> {
  constructor(
    private readonly state: IncidentState<P>,
    private readonly escalation: Escalation,
    private readonly approvals: Approvals,
    private readonly ledger: MitigationLedger,
  ) {}

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
    this.state.mitigated(message);
  }

  remediationFailed(message: string, type?: ErrorType): Promise<void> {
    return this.escalation.remediationFailed(message, type);
  }

  askApproval(spec: GateSpec): Promise<GateState> {
    return this.approvals.ask(spec);
  }

  requireApproval(spec: GateSpec, refusedOutcome: string): Promise<GateState> {
    return this.approvals.require(spec, refusedOutcome);
  }

  recordMitigations(target: Target, changes: MitigationChange[]): void {
    this.ledger.record(target, changes);
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

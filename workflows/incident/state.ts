/**
 * The incident's state and timeline: the record every other part of the kernel reads and writes,
 * status changes (mirrored in the FirebreakStatus search attribute), and the messages that change
 * the record directly (acknowledge, resolve; alerts fold in alerts.ts). Every timeline entry also goes to the Slack
 * courier, which posts it in the card's thread.
 */
import { ApplicationFailure, log, upsertSearchAttributes } from '@temporalio/workflow';
import { ErrorType } from '../../common/errors';
import type { IncidentInput, IncidentPolicy } from '../../common/incident';
import { statusKey } from '../../common/search-attributes';
import type { IncidentRecord, IncidentStatus, Target, TimelineEntry, TimelineKind } from '../../common/types';
import type { AcknowledgeRequest, ResolveRequest } from '../../domain/messages';
import { alertsAllResolved, isClosed } from '../../domain/record';
import { REHEARSAL_LABEL } from '../../domain/rehearsal';
import { SlackCourier } from './courier';
import { IncidentMetrics } from './metrics';

/** Carried across continue-as-new: the incident so far; the runbook's steps are already done. */
export interface ResumeState {
  record: IncidentRecord;
  pagerDutyPaged: boolean;
  resolution?: ResolveRequest;
}

export type ResumableInput<P> = IncidentInput<P> & { resume?: ResumeState };

export class IncidentState<P> {
  readonly record: IncidentRecord;
  readonly input: ResumableInput<P>;
  /** Set once by a human's resolve signal; carried across continue-as-new. */
  resolution?: ResolveRequest;
  readonly slack: SlackCourier;
  /** What /metrics learns from the timeline (workflows/incident/metrics.ts). */
  private readonly metrics: IncidentMetrics;

  constructor(input: ResumableInput<P>) {
    this.input = input;
    this.record = input.resume ? input.resume.record : openRecord(input);
    this.resolution = input.resume?.resolution;
    this.slack = new SlackCourier(this.record, input.slackChannel);
    this.metrics = new IncidentMetrics(this.record, this.rehearsal);
  }

  get params(): P {
    return this.input.params;
  }

  get policy(): IncidentPolicy {
    return this.input.policy;
  }

  get id(): string {
    return this.record.id;
  }

  get target(): Target {
    return this.record.target;
  }

  /** A rehearsal (dry run): nothing changes, nobody is paged, every entry says REHEARSAL. */
  get rehearsal(): boolean {
    return this.input.rehearsal !== undefined;
  }

  /** Appends to the timeline and, unless told otherwise, posts the entry to the card's thread. */
  note(kind: TimelineKind, message: string, data?: Record<string, unknown>, options: { post?: boolean } = {}): void {
    const text = this.rehearsal ? `${REHEARSAL_LABEL}: ${message}` : message;
    const entry: TimelineEntry = { at: now(), kind, message: text, ...(data ? { data } : {}) };
    this.record.timeline.push(entry);
    this.metrics.saw(entry);
    log.info(text, { incidentId: this.id, kind });
    if (options.post !== false) this.slack.post({ kind: 'entry', entry });
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
    this.slack.cardChanged();
    this.note('status', `Status: ${status}`, { status }, { post: false });
  }

  mitigated(message: string): void {
    this.record.outcome = message;
    this.note('step', message);
    if (!isClosed(this.record)) this.setStatus('mitigated');
  }

  /** Resolution by a human, or by every alert resolving (a complete view), makes pending questions moot. */
  resolvedMeanwhile(): boolean {
    return this.resolution !== undefined || this.alertsResolved();
  }

  alertsResolved(): boolean {
    return this.policy.resolveWhenAlertsResolve && alertsAllResolved(this.record);
  }

  // ---- messages that change the record ---------------------------------------------------------

  checkAcknowledge(_request: AcknowledgeRequest): void {
    if (isClosed(this.record)) {
      throw ApplicationFailure.nonRetryable(`incident ${this.id} is ${this.record.status}`, ErrorType.INCIDENT_CLOSED);
    }
  }

  acknowledge(request: AcknowledgeRequest): IncidentRecord {
    if (this.record.acknowledgedAt !== undefined) return this.record;
    this.record.acknowledgedAt = now();
    this.record.acknowledgedBy = request.actor;
    this.note('acknowledged', `Acknowledged by ${actorName(request.actor)}${request.note ? `: ${request.note}` : ''}`, {
      actor: request.actor.id,
    });
    if (this.record.status === 'open') this.setStatus('acknowledged');
    this.slack.cardChanged();
    return this.record;
  }

  requestResolution(request: ResolveRequest): void {
    if (this.record.closedAt !== undefined || this.resolution) return;
    this.resolution = request;
    this.note('note', `Resolution requested by ${actorName(request.actor)}${request.note ? `: ${request.note}` : ''}`);
  }
}

function openRecord<P>(input: IncidentInput<P>): IncidentRecord {
  return {
    id: input.incidentId,
    runbook: input.runbook,
    title: input.title,
    target: input.target,
    targets: input.targets,
    severity: input.severity,
    status: 'open',
    trigger: input.trigger,
    openedAt: now(),
    escalationTier: 0,
    gates: [],
    mitigations: [],
    alerts: [],
    alertsPartial: false,
    timeline: [],
    ...(input.rehearsal
      ? { rehearsal: { skipGates: input.rehearsal.skipGates, wouldChange: [], moreChanges: 0 } }
      : {}),
  };
}

export function now(): string {
  return new Date().toISOString();
}

export function actorName(actor: { id: string; name?: string } | undefined): string {
  return actor ? (actor.name ?? actor.id) : 'nobody';
}

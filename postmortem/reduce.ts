/**
 * The history reducer: one pass over the events, turning each into the facts it records —
 * activities with their attempts and outcomes, decisions, signals, timers, status changes,
 * markers, failures, the incident record the history carries, and a readable timeline. What
 * the facts add up to (gates, escalations, mitigations, key times) is derived in derive.ts.
 */
import type { PayloadConverter } from '@temporalio/common';
import type proto from '@temporalio/proto';
import type { IncidentInput } from '../common/incident';
import type { Actor } from '../common/types';
import {
  actorText,
  asActor,
  attemptsNote,
  decisionText,
  failureDetail,
  formatMs,
  isGate,
  signalSummary,
  summarizeInput,
  timerPurpose,
} from './describe';
import { EventType } from './history-proto';
import { int64, payloadDecoder, recordIn, tsToIso, tsToMs, type Decode, type HistoryEvent } from './history';
import type {
  ActivityOutcome,
  ActivityRecord,
  DecisionRecord,
  FailureRecord,
  Postmortem,
  RecordFound,
  SignalRecord,
  TimelineItem,
  TimerRecord,
} from './model';
import { redact, redactText } from './redact';

type StartedAttributes = proto.temporal.api.history.v1.IWorkflowExecutionStartedEventAttributes;

/** What the events of one run say, before interpretation. */
export interface HistoryFacts {
  started: StartedAttributes;
  input: Partial<IncidentInput> | undefined;
  startedAt: string;
  activities: ActivityRecord[];
  decisions: DecisionRecord[];
  timers: TimerRecord[];
  signals: SignalRecord[];
  statusChanges: Postmortem['statusChanges'];
  markers: Postmortem['markers'];
  failures: FailureRecord[];
  timeline: TimelineItem[];
  /** The latest incident record the history carries. */
  found: RecordFound;
  executionStatus: string;
  closedAt?: string;
  /** The first completed acknowledgement. */
  acknowledged?: { at: string; actor?: Actor };
}

export function reduceHistory(events: HistoryEvent[], converter?: PayloadConverter): HistoryFacts {
  const reducer = historyReducer(converter);
  for (const event of events) reducer.apply(event);
  return reducer.facts();
}

/** The same reduction fed event by event, as pages of the history arrive. */
export function historyReducer(converter?: PayloadConverter): {
  apply(event: HistoryEvent): void;
  facts(): HistoryFacts;
} {
  let reducer: HistoryReducer | undefined;
  const notStarted = () => new Error('the history does not begin with WorkflowExecutionStarted');
  return {
    apply(event) {
      if (!reducer) {
        const started = event.workflowExecutionStartedEventAttributes;
        if (!started) throw notStarted();
        reducer = new HistoryReducer(started, tsToIso(event.eventTime), payloadDecoder(converter));
      }
      reducer.apply(event);
    },
    facts() {
      if (!reducer) throw notStarted();
      return reducer.facts();
    },
  };
}

/** Adds a line to the timeline, secrets redacted. */
export function pushTimeline(
  timeline: TimelineItem[],
  at: string,
  kind: TimelineItem['kind'],
  text: string,
  eventId: number,
): void {
  timeline.push({ at, kind, text: redactText(text), eventId });
}

const CLOSED_OTHERWISE: Partial<Record<number, string>> = {
  [EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT]: 'timed_out',
  [EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED]: 'terminated',
  [EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED]: 'cancelled',
  [EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW]: 'continued_as_new',
};

class HistoryReducer {
  private readonly input: Partial<IncidentInput> | undefined;
  private readonly activities = new Map<number, ActivityRecord>();
  private readonly decisions = new Map<string, DecisionRecord>();
  private readonly timers = new Map<string, TimerRecord>();
  private readonly signals: SignalRecord[] = [];
  private readonly statusChanges: Postmortem['statusChanges'] = [];
  private readonly markers: Postmortem['markers'] = [];
  private readonly failures: FailureRecord[] = [];
  private readonly timeline: TimelineItem[] = [];
  private found: RecordFound;
  private executionStatus = 'running';
  private closedAt: string | undefined;
  private acknowledged: { at: string; actor?: Actor } | undefined;

  constructor(
    private readonly started: StartedAttributes,
    private readonly startedAt: string,
    private readonly decode: Decode,
  ) {
    this.input = decode(started.input) as Partial<IncidentInput> | undefined;
    this.push(startedAt, 'workflow', `Workflow ${started.workflowType?.name ?? '?'} started`, 1);
  }

  facts(): HistoryFacts {
    const { started, input, startedAt, signals, statusChanges, markers, failures, timeline, found } = this;
    return {
      started,
      input,
      startedAt,
      activities: [...this.activities.values()],
      decisions: [...this.decisions.values()],
      timers: [...this.timers.values()],
      signals,
      statusChanges,
      markers,
      failures,
      timeline,
      found,
      executionStatus: this.executionStatus,
      ...(this.closedAt !== undefined ? { closedAt: this.closedAt } : {}),
      ...(this.acknowledged ? { acknowledged: this.acknowledged } : {}),
    };
  }

  apply(event: HistoryEvent): void {
    const eventId = int64(event.eventId);
    const at = tsToIso(event.eventTime);
    const carried = recordIn(event, this.decode);
    if (carried) this.found = { ...carried, eventId };
    switch (event.eventType) {
      case EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
        return this.activityScheduled(event, eventId, at);
      case EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
        return this.activityStarted(event, at);
      case EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
        return this.activityCompleted(event, eventId, at);
      case EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED:
      case EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
      case EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED:
        return this.activityUnsuccessful(event, eventId, at);
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
        return this.updateAccepted(event, eventId, at);
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
        return this.updateCompleted(event, eventId, at);
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
        return this.signaled(event, eventId, at);
      case EventType.EVENT_TYPE_TIMER_STARTED:
        return this.timerStarted(event, eventId, at);
      case EventType.EVENT_TYPE_TIMER_FIRED:
      case EventType.EVENT_TYPE_TIMER_CANCELED:
        return this.timerEnded(event, eventId, at);
      case EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
        return this.searchAttributesUpserted(event, eventId, at);
      case EventType.EVENT_TYPE_MARKER_RECORDED: {
        const name = event.markerRecordedEventAttributes?.markerName ?? '?';
        this.markers.push({ at, name, eventId });
        return this.push(at, 'marker', `Marker ${name}`, eventId);
      }
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
        this.executionStatus = 'completed';
        this.closedAt = at;
        return this.push(at, 'workflow', 'Workflow completed', eventId);
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED: {
        this.executionStatus = 'failed';
        this.closedAt = at;
        const failure = failureDetail(event.workflowExecutionFailedEventAttributes?.failure);
        this.failures.push({ at, where: 'workflow', what: 'workflow execution', failure, eventId });
        return this.push(at, 'failure', `Workflow failed: ${failure.message}`, eventId);
      }
      default: {
        const closed = CLOSED_OTHERWISE[event.eventType ?? 0];
        if (closed) this.closedOtherwise(event, closed, eventId, at);
      }
    }
  }

  private push(at: string, kind: TimelineItem['kind'], text: string, eventId: number): void {
    pushTimeline(this.timeline, at, kind, text, eventId);
  }

  private activityScheduled(event: HistoryEvent, eventId: number, at: string): void {
    const attrs = event.activityTaskScheduledEventAttributes!;
    const name = attrs.activityType?.name ?? '?';
    const activityInput = this.decode(attrs.input);
    this.activities.set(eventId, {
      eventId,
      activityId: attrs.activityId ?? '',
      name,
      scheduledAt: at,
      attempts: 0,
      outcome: 'scheduled',
      input: redact(activityInput),
      inputSummary: summarizeInput(name, activityInput),
    });
  }

  private activityStarted(event: HistoryEvent, at: string): void {
    const attrs = event.activityTaskStartedEventAttributes!;
    const activity = this.activities.get(int64(attrs.scheduledEventId));
    if (!activity) return;
    activity.startedAt = at;
    activity.attempts = attrs.attempt ?? 1;
    activity.outcome = 'running';
    if (attrs.lastFailure) activity.lastAttemptFailure = failureDetail(attrs.lastFailure);
  }

  private activityCompleted(event: HistoryEvent, eventId: number, at: string): void {
    const attrs = event.activityTaskCompletedEventAttributes!;
    const activity = this.activities.get(int64(attrs.scheduledEventId));
    if (!activity) return;
    closeActivity(activity, 'completed', at);
    activity.result = redact(this.decode(attrs.result));
    this.push(at, 'activity', `${activity.name}(${activity.inputSummary}) completed${attemptsNote(activity)}`, eventId);
  }

  private activityUnsuccessful(event: HistoryEvent, eventId: number, at: string): void {
    const attrs =
      event.activityTaskFailedEventAttributes ??
      event.activityTaskTimedOutEventAttributes ??
      event.activityTaskCanceledEventAttributes!;
    const activity = this.activities.get(int64(attrs.scheduledEventId));
    if (!activity) return;
    const outcome: ActivityOutcome =
      event.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED
        ? 'failed'
        : event.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT
          ? 'timed_out'
          : 'cancelled';
    closeActivity(activity, outcome, at);
    const failure =
      'failure' in attrs && attrs.failure
        ? failureDetail(attrs.failure)
        : { message: outcome === 'cancelled' ? 'cancelled' : 'timed out' };
    activity.failure = failure;
    const what = `${activity.name}(${activity.inputSummary})`;
    this.push(
      at,
      'activity',
      `${what} ${outcome.replace('_', ' ')}${attemptsNote(activity)}: ${failure.message}`,
      eventId,
    );
    if (outcome !== 'cancelled') this.failures.push({ at, where: 'activity', what, failure, eventId });
  }

  private updateAccepted(event: HistoryEvent, eventId: number, at: string): void {
    const attrs = event.workflowExecutionUpdateAcceptedEventAttributes!;
    const request = attrs.acceptedRequest;
    const updateId = request?.meta?.updateId ?? attrs.protocolInstanceId ?? String(eventId);
    const name = request?.input?.name ?? '?';
    const args = (this.decode(request?.input?.args) ?? {}) as Record<string, unknown>;
    const actor = asActor(args.actor);
    this.decisions.set(updateId, {
      eventId,
      updateId,
      kind: name === 'decide' ? String(args.decision ?? 'decide') : name,
      at,
      outcome: 'accepted',
      ...(actor ? { actor } : {}),
      ...(typeof args.gate === 'string' ? { gate: args.gate } : {}),
      ...(typeof args.choice === 'string' ? { choice: args.choice } : {}),
      ...(typeof args.comment === 'string' ? { comment: redactText(args.comment) } : {}),
      ...(typeof args.note === 'string' ? { note: redactText(args.note) } : {}),
    });
  }

  private updateCompleted(event: HistoryEvent, eventId: number, at: string): void {
    const attrs = event.workflowExecutionUpdateCompletedEventAttributes!;
    const decision = this.decisions.get(attrs.meta?.updateId ?? '');
    if (!decision) return;
    if (attrs.outcome?.failure) {
      decision.outcome = 'failed';
      decision.failure = failureDetail(attrs.outcome.failure);
      const what = `${decision.kind} by ${actorText(decision.actor)}`;
      this.failures.push({ at, where: 'decision', what, failure: decision.failure, eventId });
    } else {
      decision.outcome = 'completed';
      const result = this.decode(attrs.outcome?.success);
      if (decision.kind === 'acknowledge') {
        this.acknowledged ??= { at, ...(decision.actor ? { actor: decision.actor } : {}) };
      } else if (isGate(result)) {
        decision.gate ??= result.name;
        decision.gateStatus = result.status;
      }
    }
    this.push(at, 'decision', decisionText(decision), decision.eventId);
  }

  private signaled(event: HistoryEvent, eventId: number, at: string): void {
    const attrs = event.workflowExecutionSignaledEventAttributes!;
    const name = attrs.signalName ?? '?';
    const payload = (this.decode(attrs.input) ?? {}) as Record<string, unknown>;
    const actor = asActor(payload.actor);
    const summary = signalSummary(name, payload, actor);
    this.signals.push({ eventId, name, at, summary, ...(actor ? { actor } : {}) });
    this.push(at, 'signal', summary, eventId);
  }

  private timerStarted(event: HistoryEvent, eventId: number, at: string): void {
    const attrs = event.timerStartedEventAttributes!;
    const timerId = attrs.timerId ?? String(eventId);
    const durationMs = tsToMs(attrs.startToFireTimeout);
    const purpose = timerPurpose(durationMs, this.input);
    this.timers.set(timerId, {
      eventId,
      timerId,
      startedAt: at,
      durationMs,
      outcome: 'pending',
      ...(purpose ? { purpose } : {}),
    });
  }

  private timerEnded(event: HistoryEvent, eventId: number, at: string): void {
    const timerId =
      event.timerFiredEventAttributes?.timerId ?? event.timerCanceledEventAttributes?.timerId ?? undefined;
    const timer = this.timers.get(timerId ?? '');
    if (!timer) return;
    timer.outcome = event.eventType === EventType.EVENT_TYPE_TIMER_FIRED ? 'fired' : 'canceled';
    timer.endedAt = at;
    if (timer.outcome === 'fired') {
      const what = timer.purpose ? ` (${timer.purpose})` : '';
      this.push(at, 'timer', `Timer ${timer.timerId}${what} fired after ${formatMs(timer.durationMs)}`, eventId);
    }
  }

  private searchAttributesUpserted(event: HistoryEvent, eventId: number, at: string): void {
    const fields = event.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {};
    const status = fields.FirebreakStatus ? this.decode({ payloads: [fields.FirebreakStatus] }) : undefined;
    const last = this.statusChanges.at(-1);
    if (typeof status === 'string' && last?.status !== status) {
      this.statusChanges.push({ at, status, eventId });
      this.push(at, 'status', `Status: ${status}`, eventId);
    }
  }

  private closedOtherwise(event: HistoryEvent, status: string, eventId: number, at: string): void {
    this.executionStatus = status;
    this.closedAt = at;
    const reason = event.workflowExecutionTerminatedEventAttributes?.reason;
    const text = `Workflow ${status.replace(/_/g, ' ')}${reason ? `: ${reason}` : ''}`;
    if (status !== 'continued_as_new') {
      this.failures.push({ at, where: 'workflow', what: 'workflow execution', failure: { message: text }, eventId });
    }
    this.push(at, status === 'continued_as_new' ? 'workflow' : 'failure', text, eventId);
  }
}

function closeActivity(activity: ActivityRecord, outcome: ActivityOutcome, at: string): void {
  activity.outcome = outcome;
  activity.closedAt = at;
  activity.attempts = Math.max(activity.attempts, 1);
  activity.durationMs = Math.max(0, Date.parse(at) - Date.parse(activity.scheduledAt));
}

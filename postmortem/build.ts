/**
 * History events → postmortem model. Pure apart from hashing: the same events give the same
 * postmortem, whether they came from `fetchHistory()`, `temporal workflow show -o json`
 * (through `historyFromJSON`) or a recorded file. Built from events, not from a query, so it works
 * without a worker, on running and closed incidents alike, and shows what really happened
 * (attempts, durations, failures) rather than what the workflow chose to remember.
 */
import { createHash } from 'node:crypto';
import { defaultPayloadConverter, type PayloadConverter } from '@temporalio/common';
import proto from '@temporalio/proto';
import type { IncidentInput, IncidentPolicy } from '../common/incident';
import { formatTarget } from '../common/ids';
import type { Actor, GateState, IncidentRecord, Target, TimelineEntry } from '../common/types';
import type { MitigationChange } from '../domain/mitigations';
import { CHECKLIST } from './checklist';
import {
  POSTMORTEM_SCHEMA_VERSION,
  type ActivityOutcome,
  type ActivityRecord,
  type DecisionRecord,
  type EscalationRecord,
  type FailureDetail,
  type FailureRecord,
  type GateRecord,
  type MitigationSummary,
  type Postmortem,
  type RecordFound,
  type SignalRecord,
  type TimelineItem,
  type TimerRecord,
} from './model';
import { redact, redactText } from './redact';

type HistoryEvent = proto.temporal.api.history.v1.IHistoryEvent;
type Payloads = proto.temporal.api.common.v1.IPayloads | null | undefined;
type Failure = proto.temporal.api.failure.v1.IFailure | null | undefined;
type Timestamp = { seconds?: unknown; nanos?: number | null } | null | undefined;

const EventType = proto.temporal.api.enums.v1.EventType;

export interface BuildOptions {
  workflowId: string;
  runId?: string;
  /** Fixed in tests so exports compare byte for byte. */
  generatedAt?: Date;
  payloadConverter?: PayloadConverter;
}

/** Activities whose inputs describe an escalation; the kernel pages Slack tiers and PagerDuty this way. */
const ESCALATION_ACTIVITIES = new Set(['postEscalation', 'triggerPage']);
/** Remediations that record what they replaced. */
const MUTATIONS = new Set(['setDeploymentEnv', 'scaleDeployment', 'setContainerResources']);

export function buildPostmortem(events: HistoryEvent[], options: BuildOptions): Postmortem {
  const converter = options.payloadConverter ?? defaultPayloadConverter;
  const decode = (payloads: Payloads): unknown => {
    const first = payloads?.payloads?.[0];
    if (!first) return undefined;
    try {
      return converter.fromPayload(first);
    } catch {
      return '<undecodable payload>';
    }
  };

  const first = events[0];
  const started = first?.workflowExecutionStartedEventAttributes;
  if (!first || !started) throw new Error('the history does not begin with WorkflowExecutionStarted');
  const input = decode(started.input) as Partial<IncidentInput> | undefined;
  const startedAt = tsToIso(first.eventTime);

  const activities = new Map<number, ActivityRecord>();
  const decisions = new Map<string, DecisionRecord>();
  const timers = new Map<string, TimerRecord>();
  const signals: SignalRecord[] = [];
  const statusChanges: Postmortem['statusChanges'] = [];
  const markers: Postmortem['markers'] = [];
  const failures: FailureRecord[] = [];
  const timeline: TimelineItem[] = [];
  let snapshot: RecordFound;
  let executionStatus = 'running';
  let closedAt: string | undefined;
  let acknowledged: { at: string; actor?: Actor } | undefined;

  const push = (at: string, kind: TimelineItem['kind'], text: string, eventId: number) =>
    timeline.push({ at, kind, text: redactText(text), eventId });
  const keepSnapshot = (record: unknown, source: 'result' | 'snapshot', eventId: number) => {
    if (isIncidentRecord(record)) snapshot = { record, source, eventId };
  };

  push(startedAt, 'workflow', `Workflow ${started.workflowType?.name ?? '?'} started`, 1);

  for (const event of events) {
    const eventId = Number(event.eventId ?? 0);
    const at = tsToIso(event.eventTime);
    switch (event.eventType) {
      case EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: {
        const attrs = event.activityTaskScheduledEventAttributes!;
        const name = attrs.activityType?.name ?? '?';
        const activityInput = decode(attrs.input);
        if (name === 'publishIncidentCard') keepSnapshot(field(activityInput, 'incident'), 'snapshot', eventId);
        activities.set(eventId, {
          eventId,
          activityId: attrs.activityId ?? '',
          name,
          scheduledAt: at,
          attempts: 0,
          outcome: 'scheduled',
          input: redact(activityInput),
          inputSummary: summarizeInput(name, activityInput),
        });
        break;
      }
      case EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED: {
        const attrs = event.activityTaskStartedEventAttributes!;
        const activity = activities.get(Number(attrs.scheduledEventId ?? 0));
        if (!activity) break;
        activity.startedAt = at;
        activity.attempts = attrs.attempt ?? 1;
        activity.outcome = 'running';
        if (attrs.lastFailure) activity.lastAttemptFailure = failureDetail(attrs.lastFailure);
        break;
      }
      case EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: {
        const attrs = event.activityTaskCompletedEventAttributes!;
        const activity = activities.get(Number(attrs.scheduledEventId ?? 0));
        if (!activity) break;
        closeActivity(activity, 'completed', at);
        activity.result = redact(decode(attrs.result));
        push(at, 'activity', `${activity.name}(${activity.inputSummary}) completed${attemptsNote(activity)}`, eventId);
        break;
      }
      case EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED:
      case EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
      case EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED: {
        const attrs =
          event.activityTaskFailedEventAttributes ??
          event.activityTaskTimedOutEventAttributes ??
          event.activityTaskCanceledEventAttributes!;
        const activity = activities.get(Number(attrs.scheduledEventId ?? 0));
        if (!activity) break;
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
        push(
          at,
          'activity',
          `${what} ${outcome.replace('_', ' ')}${attemptsNote(activity)}: ${failure.message}`,
          eventId,
        );
        if (outcome !== 'cancelled') failures.push({ at, where: 'activity', what, failure, eventId });
        break;
      }
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED: {
        const attrs = event.workflowExecutionUpdateAcceptedEventAttributes!;
        const request = attrs.acceptedRequest;
        const updateId = request?.meta?.updateId ?? attrs.protocolInstanceId ?? String(eventId);
        const name = request?.input?.name ?? '?';
        const args = (decode(request?.input?.args) ?? {}) as Record<string, unknown>;
        const actor = asActor(args.actor);
        const decision: DecisionRecord = {
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
        };
        decisions.set(updateId, decision);
        break;
      }
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED: {
        const attrs = event.workflowExecutionUpdateCompletedEventAttributes!;
        const decision = decisions.get(attrs.meta?.updateId ?? '');
        if (!decision) break;
        if (attrs.outcome?.failure) {
          decision.outcome = 'failed';
          decision.failure = failureDetail(attrs.outcome.failure);
          failures.push({
            at,
            where: 'decision',
            what: `${decision.kind} by ${actorText(decision.actor)}`,
            failure: decision.failure,
            eventId,
          });
        } else {
          decision.outcome = 'completed';
          const result = decode(attrs.outcome?.success);
          if (decision.kind === 'acknowledge') {
            keepSnapshot(result, 'snapshot', eventId);
            acknowledged ??= { at, ...(decision.actor ? { actor: decision.actor } : {}) };
          } else if (isGate(result)) {
            decision.gate ??= result.name;
            decision.gateStatus = result.status;
          }
        }
        push(at, 'decision', decisionText(decision), decision.eventId);
        break;
      }
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED: {
        const attrs = event.workflowExecutionSignaledEventAttributes!;
        const name = attrs.signalName ?? '?';
        const payload = (decode(attrs.input) ?? {}) as Record<string, unknown>;
        const actor = asActor(payload.actor);
        const summary = signalSummary(name, payload, actor);
        signals.push({ eventId, name, at, summary, ...(actor ? { actor } : {}) });
        push(at, 'signal', summary, eventId);
        break;
      }
      case EventType.EVENT_TYPE_TIMER_STARTED: {
        const attrs = event.timerStartedEventAttributes!;
        const timerId = attrs.timerId ?? String(eventId);
        const durationMs = durationToMs(attrs.startToFireTimeout);
        const purpose = timerPurpose(durationMs, input);
        timers.set(timerId, {
          eventId,
          timerId,
          startedAt: at,
          durationMs,
          outcome: 'pending',
          ...(purpose ? { purpose } : {}),
        });
        break;
      }
      case EventType.EVENT_TYPE_TIMER_FIRED:
      case EventType.EVENT_TYPE_TIMER_CANCELED: {
        const timerId =
          event.timerFiredEventAttributes?.timerId ?? event.timerCanceledEventAttributes?.timerId ?? undefined;
        const timer = timers.get(timerId ?? '');
        if (!timer) break;
        timer.outcome = event.eventType === EventType.EVENT_TYPE_TIMER_FIRED ? 'fired' : 'canceled';
        timer.endedAt = at;
        if (timer.outcome === 'fired') {
          const what = timer.purpose ? ` (${timer.purpose})` : '';
          push(at, 'timer', `Timer ${timer.timerId}${what} fired after ${formatMs(timer.durationMs)}`, eventId);
        }
        break;
      }
      case EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: {
        const fields = event.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {};
        const status = fields.FirebreakStatus ? decode({ payloads: [fields.FirebreakStatus] }) : undefined;
        const last = statusChanges.at(-1);
        if (typeof status === 'string' && last?.status !== status) {
          statusChanges.push({ at, status, eventId });
          push(at, 'status', `Status: ${status}`, eventId);
        }
        break;
      }
      case EventType.EVENT_TYPE_MARKER_RECORDED: {
        const name = event.markerRecordedEventAttributes?.markerName ?? '?';
        markers.push({ at, name, eventId });
        push(at, 'marker', `Marker ${name}`, eventId);
        break;
      }
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED: {
        executionStatus = 'completed';
        closedAt = at;
        keepSnapshot(decode(event.workflowExecutionCompletedEventAttributes?.result), 'result', eventId);
        push(at, 'workflow', 'Workflow completed', eventId);
        break;
      }
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED: {
        executionStatus = 'failed';
        closedAt = at;
        const failure = failureDetail(event.workflowExecutionFailedEventAttributes?.failure);
        failures.push({ at, where: 'workflow', what: 'workflow execution', failure, eventId });
        push(at, 'failure', `Workflow failed: ${failure.message}`, eventId);
        break;
      }
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT:
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED:
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED:
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW: {
        executionStatus = {
          [EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT]: 'timed_out',
          [EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED]: 'terminated',
          [EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED]: 'cancelled',
          [EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW]: 'continued_as_new',
        }[event.eventType];
        closedAt = at;
        const reason = event.workflowExecutionTerminatedEventAttributes?.reason;
        const text = `Workflow ${executionStatus.replace(/_/g, ' ')}${reason ? `: ${reason}` : ''}`;
        if (executionStatus !== 'continued_as_new') {
          failures.push({ at, where: 'workflow', what: 'workflow execution', failure: { message: text }, eventId });
        }
        push(at, executionStatus === 'continued_as_new' ? 'workflow' : 'failure', text, eventId);
        break;
      }
      default:
        break;
    }
  }

  const activityList = [...activities.values()];
  const found = snapshot as RecordFound;
  const record = found?.record;
  const escalations = escalationsFrom(activityList);
  for (const escalation of escalations) {
    push(escalation.at, 'escalation', `Escalated to ${escalation.tier}: ${escalation.reason}`, escalation.eventId);
  }
  const mitigations = record?.mitigations.length
    ? record.mitigations.map(fromRecord)
    : mitigationsFromActivities(activityList, input?.target);
  for (const m of mitigations) {
    push(m.appliedAt, 'mitigation', `Mitigation ${m.key}: ${describeChange(m.change)}`, 0);
    if (m.restoredAt)
      push(m.restoredAt, 'restoration', `Restored ${m.key} to ${String(m.change.previous ?? 'unset')}`, 0);
  }
  if (record?.failure) {
    failures.push({
      at: record.closedAt ?? closedAt ?? startedAt,
      where: 'runbook',
      what: record.outcome ?? 'runbook',
      failure: redact(record.failure),
    });
  }

  const gates = gatesFrom(activityList, record, [...decisions.values()]);

  const statusAt = (status: string) => statusChanges.find((change) => change.status === status)?.at;
  const detected = input?.detectedAt ?? startedAt;
  const acknowledgedAt = acknowledged?.at ?? record?.acknowledgedAt;
  const mitigatedAt = statusAt('mitigated') ?? record?.mitigatedAt;
  const resolvedAt = statusAt('resolved') ?? record?.resolvedAt;
  const since = (to: string | undefined) => (to ? Math.max(0, Date.parse(to) - Date.parse(detected)) : undefined);
  const acknowledgedBy = acknowledged?.actor ?? record?.acknowledgedBy;

  timeline.sort((a, b) => (a.at === b.at ? a.eventId - b.eventId : a.at < b.at ? -1 : 1));
  const closed = executionStatus !== 'running';
  const status = record?.status ?? statusChanges.at(-1)?.status ?? 'open';

  return {
    schemaVersion: POSTMORTEM_SCHEMA_VERSION,
    generatedAt: (options.generatedAt ?? new Date()).toISOString(),
    source: {
      workflowId: options.workflowId,
      ...(options.runId ? { runId: options.runId } : {}),
      workflowType: started.workflowType?.name ?? '?',
      ...(started.taskQueue?.name ? { taskQueue: started.taskQueue.name } : {}),
      historyLength: events.length,
      historyDigest: historyDigest(events),
      executionStatus,
      recordSource: found?.source ?? 'none',
      ...(started.continuedExecutionRunId ? { continuedFromRunId: started.continuedExecutionRunId } : {}),
    },
    summary: {
      ...(input?.incidentId ? { incidentId: input.incidentId } : {}),
      ...(input?.title ? { title: input.title } : {}),
      ...(input?.runbook ? { runbook: input.runbook } : {}),
      ...(input?.target ? { target: input.target } : {}),
      targets: input?.targets ?? (input?.target ? [input.target] : []),
      ...(input?.severity ? { severity: input.severity } : {}),
      ...(input?.trigger ? { trigger: redact(input.trigger) } : {}),
      triggeredBy: triggerText(input),
      status: closed && !record && status === 'open' ? executionStatus : status,
      ...(record?.outcome ? { outcome: redactText(record.outcome) } : {}),
      ...(record?.failure ? { failure: redact(record.failure) } : {}),
      ...(input?.params ? { params: redact(input.params) } : {}),
    },
    times: {
      ...(input?.detectedAt ? { detected: input.detectedAt } : { detected: startedAt }),
      started: startedAt,
      ...(acknowledgedAt ? { acknowledged: acknowledgedAt } : {}),
      ...(acknowledgedBy ? { acknowledgedBy } : {}),
      ...(mitigatedAt ? { mitigated: mitigatedAt } : {}),
      ...(resolvedAt ? { resolved: resolvedAt } : {}),
      ...(closedAt ? { closed: closedAt } : {}),
      ...(acknowledgedAt ? { mttaMs: since(acknowledgedAt) } : {}),
      ...(mitigatedAt ? { ttmMs: since(mitigatedAt) } : {}),
      ...(resolvedAt ? { mttrMs: since(resolvedAt) } : {}),
    },
    activities: activityList,
    gates,
    decisions: [...decisions.values()],
    signals,
    timers: [...timers.values()],
    escalations,
    mitigations,
    statusChanges,
    markers,
    failures,
    timeline,
    narrative: narrativeFrom(activityList, found),
    checklist: CHECKLIST.map((entry) => ({ ...entry, done: false })),
  };
}

// ---- pieces -------------------------------------------------------------------------------------

function closeActivity(activity: ActivityRecord, outcome: ActivityOutcome, at: string): void {
  activity.outcome = outcome;
  activity.closedAt = at;
  activity.attempts = Math.max(activity.attempts, 1);
  activity.durationMs = Math.max(0, Date.parse(at) - Date.parse(activity.scheduledAt));
}

function attemptsNote(activity: ActivityRecord): string {
  return activity.attempts > 1 ? ` after ${activity.attempts} attempts` : '';
}

function escalationsFrom(activities: ActivityRecord[]): EscalationRecord[] {
  return activities
    .filter((activity) => ESCALATION_ACTIVITIES.has(activity.name))
    .map((activity) => {
      const input = (activity.input ?? {}) as Record<string, unknown>;
      const details = (input.details ?? {}) as Record<string, unknown>;
      const pagerDuty = activity.name === 'triggerPage';
      return {
        at: activity.scheduledAt,
        tier: String((pagerDuty ? details.tier : input.tier) ?? (pagerDuty ? 'PagerDuty' : 'on-call')),
        channel: pagerDuty ? 'pagerduty' : 'slack',
        reason: String((pagerDuty ? input.summary : input.text) ?? ''),
        eventId: activity.eventId,
        outcome: activity.outcome,
      } satisfies EscalationRecord;
    });
}

function narrativeFrom(activities: ActivityRecord[], found: RecordFound): TimelineEntry[] {
  if (found?.source === 'result') return redact(found.record.timeline);
  const entries = new Map<string, TimelineEntry>();
  const add = (entry: unknown) => {
    if (typeof field(entry, 'at') !== 'string' || typeof field(entry, 'message') !== 'string') return;
    const typed = entry as TimelineEntry;
    entries.set(`${typed.at}\u0000${typed.message}`, typed);
  };
  for (const entry of found?.record.timeline ?? []) add(entry);
  for (const activity of activities) {
    if (activity.name === 'postTimelineEntry') add(field(activity.input, 'entry'));
  }
  return redact([...entries.values()].sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0)));
}

/**
 * Gates as the history knows them: the approval requests the workflow posted, the gates of the
 * latest incident record it holds, and the decisions that came after that record.
 */
function gatesFrom(
  activities: ActivityRecord[],
  record: IncidentRecord | undefined,
  decisions: DecisionRecord[],
): GateRecord[] {
  const gates = new Map<string, GateRecord>();
  const merge = (gate: GateState) => {
    const known = gates.get(gate.name);
    gates.set(gate.name, redact({ ...known, ...gate, decidedBy: asActor(gate.decidedBy) ?? known?.decidedBy }));
  };
  for (const activity of activities) {
    const gate = field(activity.input, 'gate');
    if (activity.name === 'postApprovalRequest' && isGate(gate)) merge(gate);
  }
  for (const gate of record?.gates ?? []) merge(gate);
  for (const decision of decisions) {
    const gate = decision.gate ? gates.get(decision.gate) : undefined;
    if (!gate || gate.status !== 'pending' || decision.outcome !== 'completed' || !decision.gateStatus) continue;
    Object.assign(gate, {
      status: decision.gateStatus,
      decidedAt: decision.at,
      ...(decision.actor ? { decidedBy: decision.actor } : {}),
      ...(decision.choice ? { choice: decision.choice } : {}),
    });
  }
  const byRequest = (a: GateRecord, b: GateRecord) =>
    a.requestedAt < b.requestedAt ? -1 : a.requestedAt > b.requestedAt ? 1 : 0;
  return [...gates.values()].sort(byRequest).map((gate) => {
    const { decidedBy, ...rest } = gate;
    return decidedBy ? { ...rest, decidedBy } : rest;
  });
}

function fromRecord(m: IncidentRecord['mitigations'][number]): MitigationSummary {
  return redact({
    key: m.key,
    target: m.target,
    change: m.change,
    appliedAt: m.appliedAt,
    restored: m.restoredAt !== undefined,
    ...(m.restoredAt ? { restoredAt: m.restoredAt } : {}),
    ...(m.restoreNote ? { restoreNote: m.restoreNote } : {}),
  });
}

/**
 * No incident record in the history yet (a running incident that never published its card):
 * the ledger is rebuilt from the remediation activities' own results, which report what they
 * replaced. Restores are the same activities under the `<incident>:restore` marker.
 */
function mitigationsFromActivities(activities: ActivityRecord[], fallbackTarget?: Target): MitigationSummary[] {
  const ledger = new Map<string, MitigationSummary>();
  for (const activity of activities) {
    if (!MUTATIONS.has(activity.name) || activity.outcome !== 'completed') continue;
    const input = (activity.input ?? {}) as Record<string, unknown>;
    if (input.dryRun === true) continue;
    const target: Target =
      typeof input.namespace === 'string' && typeof input.deployment === 'string'
        ? { namespace: input.namespace, deployment: input.deployment }
        : (fallbackTarget ?? { namespace: '?', deployment: '?' });
    const restoring = typeof input.incidentId === 'string' && input.incidentId.endsWith(':restore');
    for (const change of changesOf(activity)) {
      const key = `${formatTarget(target)}/${change.kind}/${'name' in change ? change.name : 'container' in change ? `${change.container}/${change.field}.${change.resource}` : 'replicas'}`;
      const known = ledger.get(key);
      if (restoring) {
        if (known && !known.restored) Object.assign(known, { restored: true, restoredAt: activity.closedAt });
        continue;
      }
      if (known && !known.restored) continue;
      ledger.set(key, { key, target, change, appliedAt: activity.closedAt ?? activity.scheduledAt, restored: false });
    }
  }
  return [...ledger.values()];
}

function changesOf(activity: ActivityRecord): MitigationChange[] {
  const result = (activity.result ?? {}) as Record<string, unknown>;
  if (activity.name === 'scaleDeployment' && typeof result.previousReplicas === 'number') {
    return [{ kind: 'replicas', previous: result.previousReplicas, applied: Number(result.replicas) }];
  }
  if (activity.name === 'setDeploymentEnv') {
    const previous = (result.previous ?? {}) as Record<string, string | null>;
    const applied = (result.applied ?? {}) as Record<string, string | null>;
    const container = String(result.container ?? '?');
    return Object.keys(applied).map((name) => ({
      kind: 'env',
      container,
      name,
      previous: previous[name] ?? null,
      applied: applied[name] ?? null,
    }));
  }
  if (activity.name === 'setContainerResources') {
    const previous = (result.previous ?? {}) as Record<'limits' | 'requests', Record<string, string | null>>;
    const applied = (result.applied ?? {}) as Record<'limits' | 'requests', Record<string, string | null>>;
    const container = String(result.container ?? '?');
    const changes: MitigationChange[] = [];
    for (const field of ['limits', 'requests'] as const) {
      for (const resource of ['memory', 'cpu'] as const) {
        if (applied[field]?.[resource] === undefined) continue;
        changes.push({
          kind: 'resources',
          container,
          field,
          resource,
          previous: previous[field]?.[resource] ?? null,
          applied: applied[field]?.[resource] ?? null,
        });
      }
    }
    return changes;
  }
  return [];
}

export function describeChange(change: MitigationChange): string {
  const from = String(change.previous ?? 'unset');
  const to = String(change.applied ?? 'unset');
  if (change.kind === 'env') return `env ${change.name} ${from} → ${to} (container ${change.container})`;
  if (change.kind === 'replicas') return `replicas ${from} → ${to}`;
  return `${change.field}.${change.resource} ${from} → ${to} (container ${change.container})`;
}

/** The arguments an SRE needs to recognise the call, never the whole payload. */
function summarizeInput(name: string, input: unknown): string {
  const value = (input ?? {}) as Record<string, unknown>;
  if (typeof input !== 'object' || input === null) return input === undefined ? '' : redactText(String(input));
  const parts: string[] = [];
  if (typeof value.namespace === 'string' && typeof value.deployment === 'string') {
    parts.push(`${value.namespace}/${value.deployment}`);
  } else if (typeof value.namespace === 'string') {
    parts.push(`namespace ${value.namespace}`);
  }
  if (value.dryRun === true) parts.push('dry run');
  const pick: Record<string, string[]> = {
    setDeploymentEnv: ['env'],
    scaleDeployment: ['replicas'],
    setContainerResources: ['limits', 'requests'],
    rolloutUndo: ['toRevision'],
    checkHealth: ['url', 'expectStatus'],
    listRecentEvents: ['limit'],
    postEscalation: ['tier'],
    triggerPage: ['severity'],
    execInPod: ['pod', 'command'],
    analyzeMemoryTrend: ['selector', 'windowSeconds'],
    findAvalancheRootCauseHints: ['services'],
    postApprovalRequest: [],
  };
  for (const key of pick[name] ?? []) {
    if (value[key] === undefined) continue;
    parts.push(`${key}=${JSON.stringify(redact({ [key]: value[key] })[key])}`);
  }
  if (name === 'postApprovalRequest' || name === 'closeApprovalRequest') {
    const gate = field(value, 'gate');
    if (gate && typeof field(gate, 'name') === 'string') parts.push(`gate ${String(field(gate, 'name'))}`);
  }
  if (name === 'postTimelineEntry') {
    const entry = field(value, 'entry');
    if (entry && typeof field(entry, 'kind') === 'string') parts.push(String(field(entry, 'kind')));
  }
  return redactText(parts.join(', '));
}

function signalSummary(name: string, payload: Record<string, unknown>, actor: Actor | undefined): string {
  if (name === 'resolve') {
    return `Resolution requested by ${actorText(actor)}${typeof payload.note === 'string' ? `: ${payload.note}` : ''}`;
  }
  if (name === 'alert') {
    const alerts = Array.isArray(payload.alerts) ? payload.alerts : [];
    const firing = alerts.filter((alert) => field(alert, 'status') === 'firing').length;
    return `Alert notification from ${String(payload.source ?? '?')} (${String(payload.status ?? '?')}): ${firing} firing, ${alerts.length - firing} resolved${Number(payload.truncatedAlerts) > 0 ? `, ${String(payload.truncatedAlerts)} truncated` : ''}`;
  }
  return `Signal ${name}${actor ? ` from ${actorText(actor)}` : ''}`;
}

function decisionText(decision: DecisionRecord): string {
  const who = actorText(decision.actor);
  if (decision.outcome === 'failed') return `${decision.kind} by ${who} failed: ${decision.failure?.message ?? '?'}`;
  if (decision.kind === 'acknowledge') return `Acknowledged by ${who}${decision.note ? `: ${decision.note}` : ''}`;
  const verb = decision.kind === 'approve' ? 'approved' : decision.kind === 'reject' ? 'rejected' : decision.kind;
  const choice = decision.choice ? ` (choice ${decision.choice})` : '';
  const comment = decision.comment ? ` — "${decision.comment}"` : '';
  return `Gate ${decision.gate ?? '?'} ${verb}${choice} by ${who}${comment}`;
}

function timerPurpose(durationMs: number, input: Partial<IncidentInput> | undefined): string | undefined {
  const policy: Partial<IncidentPolicy> = input?.policy ?? {};
  if (input?.severity && policy.ackDeadlineMs?.[input.severity] === durationMs) return 'acknowledgement deadline';
  const named: [keyof IncidentPolicy, string][] = [
    ['repageIntervalMs', 're-page interval'],
    ['gateEscalateAfterMs', 'gate escalation'],
    ['gateDeadlineMs', 'gate deadline'],
    ['restoreAfterMs', 'automatic restore'],
    ['maxOpenMs', 'maximum open time'],
  ];
  const matches = named.filter(([key]) => policy[key] === durationMs).map(([, name]) => name);
  return matches.length > 0 ? matches.join(' or ') : undefined;
}

function triggerText(input: Partial<IncidentInput> | undefined): string {
  const trigger = input?.trigger;
  if (!trigger) return 'unknown';
  if (trigger.kind === 'alert') return `alert from ${trigger.source} (receiver ${trigger.receiver})`;
  if (trigger.kind === 'slack') return `${trigger.userName ?? trigger.user} on Slack`;
  return `${trigger.user} (CLI)`;
}

export function actorText(actor: Actor | undefined): string {
  return actor ? (actor.name && actor.name !== actor.id ? `${actor.name} (${actor.id})` : actor.id) : 'unknown';
}

function failureDetail(failure: Failure): FailureDetail {
  // An activity failure wraps the application failure that says what really went wrong.
  let inner = failure;
  while (inner?.cause && !inner.applicationFailureInfo) inner = inner.cause;
  const info = inner?.applicationFailureInfo;
  return {
    message: redactText(inner?.message ?? failure?.message ?? 'unknown failure'),
    ...(info?.type ? { type: info.type } : inner?.timeoutFailureInfo ? { type: 'TIMEOUT' } : {}),
    ...(info ? { nonRetryable: Boolean(info.nonRetryable) } : {}),
  };
}

function asActor(value: unknown): Actor | undefined {
  if (typeof value !== 'object' || value === null || typeof field(value, 'id') !== 'string') return undefined;
  const actor = value as Actor;
  return { id: actor.id, ...(actor.name ? { name: actor.name } : {}) };
}

function isIncidentRecord(value: unknown): value is IncidentRecord {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof field(value, 'id') === 'string' &&
    Array.isArray(field(value, 'timeline')) &&
    Array.isArray(field(value, 'mitigations'))
  );
}

function isGate(value: unknown): value is GateState {
  return typeof value === 'object' && value !== null && typeof field(value, 'name') === 'string';
}

function field(value: unknown, name: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[name] : undefined;
}

export function tsToMs(ts: Timestamp): number {
  if (!ts) return 0;
  return Number(String(ts.seconds ?? 0)) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6);
}

function tsToIso(ts: Timestamp): string {
  return new Date(tsToMs(ts)).toISOString();
}

function durationToMs(duration: Timestamp): number {
  return tsToMs(duration);
}

export function formatMs(ms: number): string {
  if (ms < 1_000) return `${ms} ms`;
  if (ms < 120_000) return `${+(ms / 1_000).toFixed(1)} s`;
  if (ms < 7_200_000) return `${+(ms / 60_000).toFixed(1)} min`;
  return `${+(ms / 3_600_000).toFixed(1)} h`;
}

/**
 * Digest of the history in a canonical form (proto JSON, sorted keys, empty messages dropped), so
 * the same history hashes the same whether it came over gRPC or from `temporal workflow show -o json`.
 */
function historyDigest(events: HistoryEvent[]): string {
  const hash = createHash('sha256');
  const HistoryEventMessage = proto.temporal.api.history.v1.HistoryEvent;
  for (const event of events) {
    const plain = HistoryEventMessage.toObject(HistoryEventMessage.fromObject(event), {
      longs: String,
      enums: String,
      bytes: String,
    });
    hash.update(canonicalJson(plain));
    hash.update('\n');
  }
  return `sha256:${hash.digest('hex')}`;
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, inner]) => !isEmpty(inner))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([key, inner]) => `${JSON.stringify(key)}:${canonicalJson(inner)}`).join(',')}}`;
}

function isEmpty(value: unknown): boolean {
  if (value === undefined || value === null) return true;
  if (Array.isArray(value)) return value.length === 0;
  if (typeof value === 'object') return Object.values(value as Record<string, unknown>).every(isEmpty);
  return false;
}

/**
 * Replay checks: incidents' histories replayed against a workflow bundle, reporting for each either
 * ok or the first event where the code diverges from what the history recorded. Shared by
 * `firebreak replay` (open incidents, before moving them to a new build) and the CI replay test
 * (recorded fixtures against today's build). Needs no server.
 */
import proto from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { createSinks } from './sinks';

type History = proto.temporal.api.history.v1.IHistory;
type HistoryEvent = proto.temporal.api.history.v1.IHistoryEvent;

export interface ReplayInput {
  workflowId: string;
  history: History;
}

export interface Divergence {
  eventId: number;
  /** `ActivityTaskScheduled`, `TimerStarted`, ... */
  eventType: string;
  /** The activity type, timer id, marker or signal the event names, when it names one. */
  name?: string;
  message: string;
}

export interface ReplayOutcome {
  workflowId: string;
  ok: boolean;
  divergence?: Divergence;
  /** A replay that failed for another reason than non-determinism (a bundle that does not load...). */
  error?: string;
}

const { EventType } = proto.temporal.api.enums.v1;

/** The replayer's DeterminismViolationError (@temporalio/workflow's class, which only the sandbox imports). */
const isNonDeterminism = (err: Error | undefined): err is Error => err?.name === 'DeterminismViolationError';

/** Replays every history against the bundle, one replay worker for all; results in input order. */
export async function replayHistories(bundle: { code: string }, inputs: ReplayInput[]): Promise<ReplayOutcome[]> {
  const errors = await replayErrors(bundle, inputs);
  const outcomes: ReplayOutcome[] = [];
  for (const [index, input] of inputs.entries()) {
    const error = errors[index];
    if (!error) outcomes.push({ workflowId: input.workflowId, ok: true });
    else if (isNonDeterminism(error))
      outcomes.push({
        workflowId: input.workflowId,
        ok: false,
        divergence: await firstDivergence(bundle, input, error),
      });
    else outcomes.push({ workflowId: input.workflowId, ok: false, error: String(error) });
  }
  return outcomes;
}

/** One line per incident: `ok <id>` or `FAIL <id>: first diverging event …`. */
export function describeOutcome(outcome: ReplayOutcome, suffix = ''): string {
  if (outcome.ok) return `ok    ${outcome.workflowId}${suffix}`;
  if (outcome.divergence) {
    const d = outcome.divergence;
    return `FAIL  ${outcome.workflowId}${suffix}: first diverging event ${d.eventId} ${d.eventType}${d.name ? ` (${d.name})` : ''} — ${d.message}`;
  }
  return `FAIL  ${outcome.workflowId}${suffix}: ${outcome.error ?? 'replay failed'}`;
}

async function replayErrors(bundle: { code: string }, inputs: ReplayInput[]): Promise<(Error | undefined)[]> {
  const byId = new Map<string, Error | undefined>();
  // Replay workers need unique workflow ids within one run; the index keeps duplicates apart.
  const keyed = inputs.map((input, index) => ({ workflowId: `${index}:${input.workflowId}`, history: input.history }));
  // The bundle's sinks (tracing, incident metrics) are there, feeding nothing.
  for await (const result of Worker.runReplayHistories({ workflowBundle: bundle, sinks: createSinks() }, keyed)) {
    byId.set(result.workflowId, result.error);
  }
  return keyed.map((input) => byId.get(input.workflowId));
}

/**
 * The first workflow task whose commands the code no longer issues is found by replaying the
 * history cut before later tasks' completions (a binary search: a cut that fails, fails for every
 * longer cut); within that task's commands, the event the error names (else its first command
 * event) is the first diverging one.
 */
async function firstDivergence(bundle: { code: string }, input: ReplayInput, error: Error): Promise<Divergence> {
  const message = /\[TMPRL1100\][^"]*/.exec(error.message)?.[0] ?? error.message;
  const events = input.history.events ?? [];
  const completions = events.flatMap((event, index) =>
    event.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED ? [index] : [],
  );
  // Cut k holds the commands of the task completed at completions[k]; the last cut is the whole history.
  const cuts = [...completions.slice(1), events.length];
  const diverges = async (k: number) => {
    const [err] = await replayErrors(bundle, [
      { workflowId: input.workflowId, history: { events: events.slice(0, cuts[k]) } },
    ]);
    return isNonDeterminism(err);
  };
  if (completions.length === 0) return { eventId: 0, eventType: 'unknown', message };
  // The whole history (the last cut) is known to diverge.
  let [low, high] = [0, cuts.length - 1];
  while (low < high) {
    const middle = Math.floor((low + high) / 2);
    if (await diverges(middle)) high = middle;
    else low = middle + 1;
  }
  const failing = low;
  const task = completions[failing]!;
  const taskEventId = Number(events[task]!.eventId);
  const commands = events
    .slice(task + 1, cuts[failing])
    .filter((event) => Number(commandOf(event)?.workflowTaskCompletedEventId ?? -1) === taskEventId);
  const named = commands.find((event) => {
    const name = eventName(event);
    return name !== undefined && message.includes(`'${name}'`);
  });
  const event = named ?? commands[0] ?? events[task]!;
  const name = eventName(event);
  return {
    eventId: Number(event.eventId),
    eventType: eventTypeName(event),
    ...(name ? { name } : {}),
    message,
  };
}

function commandOf(event: HistoryEvent): { workflowTaskCompletedEventId?: unknown } | undefined {
  return (
    event.activityTaskScheduledEventAttributes ??
    event.timerStartedEventAttributes ??
    event.markerRecordedEventAttributes ??
    event.startChildWorkflowExecutionInitiatedEventAttributes ??
    event.signalExternalWorkflowExecutionInitiatedEventAttributes ??
    event.requestCancelExternalWorkflowExecutionInitiatedEventAttributes ??
    event.upsertWorkflowSearchAttributesEventAttributes ??
    event.workflowPropertiesModifiedEventAttributes ??
    event.timerCanceledEventAttributes ??
    event.activityTaskCancelRequestedEventAttributes ??
    event.workflowExecutionCompletedEventAttributes ??
    event.workflowExecutionFailedEventAttributes ??
    event.workflowExecutionContinuedAsNewEventAttributes ??
    event.workflowExecutionCanceledEventAttributes ??
    undefined
  );
}

function eventName(event: HistoryEvent): string | undefined {
  return (
    event.activityTaskScheduledEventAttributes?.activityType?.name ??
    event.timerStartedEventAttributes?.timerId ??
    event.markerRecordedEventAttributes?.markerName ??
    event.signalExternalWorkflowExecutionInitiatedEventAttributes?.signalName ??
    event.startChildWorkflowExecutionInitiatedEventAttributes?.workflowType?.name ??
    undefined
  );
}

function eventTypeName(event: HistoryEvent): string {
  const name = EventType[event.eventType ?? 0] ?? 'EVENT_TYPE_UNSPECIFIED';
  return name
    .replace(/^EVENT_TYPE_/, '')
    .toLowerCase()
    .replace(/(^|_)([a-z])/g, (_, __, letter: string) => letter.toUpperCase());
}

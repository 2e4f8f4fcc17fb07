/**
 * What a stuck test was waiting on, in words: a workflow's status, pending activities and
 * workflow task, and its last events; the open workflows of a task queue. Used when a bounded wait
 * of the harness gives up, so the failure names the activity or task nobody finished instead of
 * a bare "timed out".
 */
import type { Client, WorkflowHandle } from '@temporalio/client';
import proto from '@temporalio/proto';

const EVENT_NAMES = proto.temporal.api.enums.v1.EventType;
const ACTIVITY_STATES = proto.temporal.api.enums.v1.PendingActivityState;
/** A diagnosis must not hang the failure it explains. */
const DIAGNOSIS_DEADLINE_MS = 10_000;

/** Resolves to `undefined` when `promise` has not settled within `ms`; the timer does not hold the process. */
export async function settledWithin<T>(promise: Promise<T>, ms: number): Promise<{ value: T } | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
    timer.unref();
  });
  try {
    return await Promise.race([promise.then((value) => ({ value })), late]);
  } finally {
    clearTimeout(timer);
  }
}

function eventLine(event: proto.temporal.api.history.v1.IHistoryEvent): string {
  const type = (EVENT_NAMES[event.eventType ?? 0] ?? 'UNKNOWN').replace(/^EVENT_TYPE_/, '');
  const detail =
    event.activityTaskScheduledEventAttributes?.activityType?.name ??
    event.timerStartedEventAttributes?.timerId ??
    event.workflowExecutionSignaledEventAttributes?.signalName ??
    event.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name ??
    '';
  return `${String(event.eventId)} ${type}${detail ? ` (${detail})` : ''}`;
}

/** Status, pending activities and workflow task, and the last `lastEvents` events of one workflow. */
export async function describeWorkflow(handle: WorkflowHandle, lastEvents = 12): Promise<string> {
  const work = (async () => {
    const described = await handle.describe();
    const lines = [
      `workflow ${handle.workflowId} (${described.type}, run ${described.runId}): ${described.status.name}, ` +
        `task queue ${described.taskQueue}, ${described.historyLength} events`,
    ];
    for (const activity of described.raw.pendingActivities ?? []) {
      lines.push(
        `  pending activity ${activity.activityId} ${activity.activityType?.name ?? '?'}: ` +
          `${(ACTIVITY_STATES[activity.state ?? 0] ?? '?').replace(/^PENDING_ACTIVITY_STATE_/, '')}, ` +
          `attempt ${activity.attempt ?? '?'}${activity.lastFailure?.message ? `, last failure: ${activity.lastFailure.message}` : ''}`,
      );
    }
    const task = described.raw.pendingWorkflowTask;
    if (task) lines.push(`  pending workflow task: attempt ${task.attempt ?? '?'}, state ${String(task.state ?? '?')}`);
    const events = (await handle.fetchHistory()).events ?? [];
    lines.push(`  last events: ${events.slice(-lastEvents).map(eventLine).join('; ')}`);
    return lines.join('\n');
  })();
  const outcome = await settledWithin(
    work.catch((err: unknown) => `workflow ${handle.workflowId}: describe failed: ${String(err)}`),
    DIAGNOSIS_DEADLINE_MS,
  );
  return outcome?.value ?? `workflow ${handle.workflowId}: no description within ${DIAGNOSIS_DEADLINE_MS} ms`;
}

/** Every running workflow on a task queue, described (at most `limit`). */
export async function describeTaskQueue(client: Client, taskQueue: string, limit = 8): Promise<string> {
  const work = (async () => {
    const lines: string[] = [];
    let count = 0;
    for await (const execution of client.workflow.list({
      query: `TaskQueue = '${taskQueue}' AND ExecutionStatus = 'Running'`,
    })) {
      count += 1;
      if (count > limit) continue;
      lines.push(await describeWorkflow(client.workflow.getHandle(execution.workflowId, execution.runId), 6));
    }
    if (count > limit) lines.push(`(${count - limit} more running workflows not shown)`);
    return lines.length > 0 ? lines.join('\n') : `no running workflows on task queue ${taskQueue}`;
  })();
  const outcome = await settledWithin(
    work.catch((err: unknown) => `listing task queue ${taskQueue} failed: ${String(err)}`),
    DIAGNOSIS_DEADLINE_MS * 2,
  );
  return outcome?.value ?? `task queue ${taskQueue}: no listing within ${DIAGNOSIS_DEADLINE_MS * 2} ms`;
}

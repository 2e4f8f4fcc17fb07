/**
 * Incident operations over the Temporal client, shared by the ingress (Slack, webhooks) and the
 * CLI so both start, signal and find incidents the same way. Nothing here talks to a workflow
 * except through the message definitions exported beside it.
 */
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowUpdateFailedError,
  type Client,
  type WorkflowHandle,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { ErrorType } from '../common/errors';
import { incidentIdKey } from '../common/search-attributes';
import type { PreparedIncident } from '../runbooks';
import { alertSignal, type AlertNotification } from '../domain/messages';

export const DEFAULT_TASK_QUEUE = 'firebreak';

export interface StartOutcome {
  workflowId: string;
  runId?: string;
  incidentId: string;
  /** False when an incident for the same business key was already running (nothing new started). */
  started: boolean;
}

/**
 * Starts a human-triggered incident. The workflow id is the business key, so a second trigger
 * for the same target while one is open lands on the open incident instead of a second one.
 */
/** The memo key that names the request which started an incident (see startIncident). */
export const STARTED_BY_MEMO = 'startedBy';

export async function startIncident(
  client: Client,
  prepared: PreparedIncident,
  taskQueue = DEFAULT_TASK_QUEUE,
  /** Names the request that starts it (memo `startedBy`), so a retried start can tell it was its own. */
  startedBy?: string,
): Promise<StartOutcome> {
  try {
    const handle = await client.workflow.start(prepared.workflowType, {
      taskQueue,
      workflowId: prepared.workflowId,
      args: [prepared.input],
      typedSearchAttributes: prepared.searchAttributes,
      ...(startedBy ? { memo: { [STARTED_BY_MEMO]: startedBy } } : {}),
      workflowIdConflictPolicy: 'FAIL',
      // A closed incident's id may be reused for the next incident on the same target.
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    });
    return {
      workflowId: handle.workflowId,
      runId: handle.firstExecutionRunId,
      incidentId: prepared.input.incidentId,
      started: true,
    };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      return { workflowId: prepared.workflowId, incidentId: prepared.input.incidentId, started: false };
    }
    throw err;
  }
}

/**
 * Delivers an alert notification: the first one starts the incident, later ones for the same
 * (source, receiver, groupKey) reach the running incident as `alertSignal` — never a second one.
 */
export async function deliverAlert(
  client: Client,
  prepared: PreparedIncident,
  notification: AlertNotification,
  taskQueue = DEFAULT_TASK_QUEUE,
  /** REJECT_DUPLICATE: fail (WorkflowExecutionAlreadyStartedError) rather than follow a closed run. */
  reuse: 'ALLOW_DUPLICATE' | 'REJECT_DUPLICATE' = 'ALLOW_DUPLICATE',
): Promise<{ workflowId: string; runId: string }> {
  const handle = await client.workflow.signalWithStart(prepared.workflowType, {
    taskQueue,
    workflowId: prepared.workflowId,
    args: [prepared.input],
    typedSearchAttributes: prepared.searchAttributes,
    signal: alertSignal,
    signalArgs: [notification],
    workflowIdReusePolicy: reuse,
  });
  return { workflowId: handle.workflowId, runId: handle.signaledRunId };
}

/** A handle on an incident by its workflow id (the id users see in Slack and the CLI). */
export function incidentHandle(client: Client, workflowId: string): WorkflowHandle {
  return client.workflow.getHandle(workflowId);
}

/**
 * The execution an incident id (`INC-…`) names, through the FirebreakIncidentId search attribute
 * that every incident carries from its start. Undefined when visibility knows no such incident.
 */
export async function findIncidentById(
  client: Client,
  incidentId: string,
): Promise<{ workflowId: string; runId: string } | undefined> {
  const escaped = incidentId.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
  for await (const execution of client.workflow.list({ query: `${incidentIdKey.name} = '${escaped}'`, pageSize: 1 })) {
    return { workflowId: execution.workflowId, runId: execution.runId };
  }
  return undefined;
}

/** The kernel refused for want of permission (not because the gate or incident had moved on). */
export function isPermissionRefusal(err: unknown): boolean {
  const cause = err instanceof WorkflowUpdateFailedError ? err.cause : err;
  return (
    cause instanceof ApplicationFailure &&
    (cause.type === ErrorType.UNAUTHORIZED ||
      cause.type === ErrorType.SELF_APPROVAL ||
      cause.type === ErrorType.ALREADY_APPROVED)
  );
}

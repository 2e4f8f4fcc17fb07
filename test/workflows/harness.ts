/**
 * What the runbook workflow tests share: a fast policy (seconds, not hours), actors, starting an
 * incident through the real catalog (`prepareIncident`, so parameters pass the runbook's schema),
 * and waiting on the incident record through `statusQuery`.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Client, WorkflowHandle } from '@temporalio/client';
import proto from '@temporalio/proto';
import { DEFAULT_POLICY, type IncidentPolicy } from '../../common/incident';
import type { Actor, GateState, IncidentRecord, RunbookName, Severity, Target } from '../../common/types';
import { prepareIncident } from '../../runbooks';
import { decideUpdate, resolveSignal, statusQuery, type DecideRequest } from '../../domain/messages';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';

export const ALICE: Actor = { id: 'cli:alice', name: 'alice' };
export const BOB: Actor = { id: 'U0BOB', name: 'bob' };
export const CAROL: Actor = { id: 'U0CAROL', name: 'carol', groups: ['S0SRE'] };
export const MALLORY: Actor = { id: 'U0MALLORY', name: 'mallory', groups: ['S0SALES'] };

/** Escalation and gates in seconds so a test sees a deadline pass. */
export function fastPolicy(overrides: Partial<IncidentPolicy> = {}): IncidentPolicy {
  return {
    ...DEFAULT_POLICY,
    ackDeadlineMs: { P0: 120_000, P1: 120_000, P2: 120_000, P3: 120_000 },
    repageIntervalMs: 1_000,
    tiers: [
      { name: 'on-call', kind: 'slack', mentions: ['U0ONCALL'] },
      { name: 'PagerDuty', kind: 'pagerduty', mentions: [] },
      { name: 'incident commander', kind: 'slack', mentions: ['U0IC'] },
    ],
    approvers: { users: [ALICE.id, BOB.id], groups: ['S0SRE'] },
    gateEscalateAfterMs: 1_000,
    gateDeadlineMs: 2_500,
    restoreAfterMs: 1_500,
    rolloutTimeoutSeconds: 5,
    maxOpenMs: 120_000,
    verifyWindowMs: 1_000,
    ...overrides,
  };
}

export function uniqueTarget(deployment: string): Target {
  return { namespace: 'shop', deployment: `${deployment}-${randomUUID().slice(0, 6)}` };
}

export interface StartOptions {
  runbook: RunbookName;
  targets?: Target[];
  params?: Record<string, unknown>;
  severity?: Severity;
  policy?: IncidentPolicy;
  triggeredBy?: Actor;
  /** A rehearsal (`--dry-run`, with `--yes` when skipGates). */
  rehearsal?: { skipGates: boolean };
}

export async function startIncident(
  client: Client,
  taskQueue: string,
  options: StartOptions,
): Promise<WorkflowHandle<(input: unknown) => Promise<IncidentRecord>>> {
  const triggeredBy = options.triggeredBy ?? ALICE;
  const prepared = prepareIncident({
    runbook: options.runbook,
    targets: options.targets ?? [uniqueTarget('checkout')],
    severity: options.severity,
    params: options.params ?? {},
    trigger: { kind: 'cli', user: triggeredBy.id },
    triggeredBy,
    policy: options.policy ?? fastPolicy(),
    ...(options.rehearsal ? { rehearsal: options.rehearsal } : {}),
  });
  return client.workflow.start<(input: unknown) => Promise<IncidentRecord>>(prepared.workflowType, {
    taskQueue,
    workflowId: prepared.workflowId,
    args: [prepared.input],
    typedSearchAttributes: prepared.searchAttributes,
    workflowExecutionTimeout: '5 minutes',
  });
}

/**
 * Polls the incident record until `predicate` holds; fails with the last record after `timeoutMs`.
 * Generous by default: a passing wait returns as soon as the predicate holds, and a shared machine
 * under load can take many seconds over a runbook that takes one when idle.
 */
export async function waitForRecord(
  handle: WorkflowHandle,
  predicate: (record: IncidentRecord) => boolean,
  timeoutMs = 90_000,
): Promise<IncidentRecord> {
  const deadline = Date.now() + timeoutMs;
  let record: IncidentRecord | undefined;
  let queryError: unknown;
  while (Date.now() < deadline) {
    try {
      record = await handle.query(statusQuery);
      queryError = undefined;
    } catch (err) {
      // A workflow task that timed out on a loaded machine is retried by the server; until it completes,
      // queries answer "Workflow Task in failed state". A task failing for good still ends the wait below.
      if (!String((err as Error).message).includes('Workflow Task in failed state')) throw err;
      queryError = err;
    }
    if (record && queryError === undefined && predicate(record)) return record;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const last = queryError ? `last query failed: ${String(queryError)}` : JSON.stringify(record, null, 1);
  throw new Error(`timed out waiting on incident ${handle.workflowId}: ${last}`);
}

export const gatePending = (name: string) => (record: IncidentRecord) =>
  record.gates.some((gate) => gate.name === name && gate.status === 'pending');

export async function history(handle: WorkflowHandle): Promise<proto.temporal.api.history.v1.IHistoryEvent[]> {
  return (await handle.fetchHistory()).events ?? [];
}

/** Event type names as Temporal spells them (`EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED`...). */
export async function eventTypes(handle: WorkflowHandle): Promise<string[]> {
  const names = proto.temporal.api.enums.v1.EventType;
  return (await history(handle)).map((event) => names[event.eventType ?? 0] ?? 'UNKNOWN');
}

export function timelineText(record: IncidentRecord): string {
  return record.timeline.map((entry) => `${entry.kind}: ${entry.message}`).join('\n');
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until a workflow task has run after the cancellation request reached the history. */
export async function cancellationHandled(handle: WorkflowHandle): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const types = await eventTypes(handle);
    const requested = types.indexOf('EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED');
    if (requested >= 0 && types.slice(requested).includes('EVENT_TYPE_WORKFLOW_TASK_COMPLETED')) return;
    await sleep(100);
  }
  throw new Error(`the cancellation of ${handle.workflowId} was not handled within 10 s`);
}

/**
 * Acknowledged within a 3 s response time (room for a loaded machine): past the deadline, nobody
 * has been paged and the incident never climbed a tier. Returns the handle, still open.
 */
export async function acknowledgeBeforeDeadline(
  client: Client,
  taskQueue: string,
  options: StartOptions,
): Promise<{ handle: WorkflowHandle<(input: unknown) => Promise<IncidentRecord>>; record: IncidentRecord }> {
  const deadline = 3_000;
  const policy = fastPolicy({
    ...options.policy,
    ackDeadlineMs: { P0: deadline, P1: deadline, P2: deadline, P3: deadline },
  });
  const handle = await startIncident(client, taskQueue, { ...options, policy });
  const { acknowledgeUpdate } = await import('../../domain/messages');
  const acked = await handle.executeUpdate(acknowledgeUpdate, { args: [{ actor: BOB, note: 'looking' }] });
  if (!acked.acknowledgedAt) throw new Error('acknowledgement not recorded');
  await sleep(deadline + 1_500);
  return { handle, record: await handle.query(statusQuery) };
}

/** MALLORY, no approver, approving the pending gate: refused by the workflow's validator, no update in the history. */
export async function assertOutsiderApprovalRefused(handle: WorkflowHandle): Promise<void> {
  await assert.rejects(
    handle.executeUpdate(decideUpdate, { args: [{ decision: 'approve', actor: MALLORY }] }),
    refusedWith('UNAUTHORIZED'),
  );
  assert.deepEqual(
    (await eventTypes(handle)).filter((t) => t.includes('UPDATE')),
    [],
  );
}

/**
 * BOB's approval click delivered twice at once with one update id (a double click, a Slack retry):
 * both answers are the same decision, which is returned.
 */
export async function approveTwiceAtOnce(handle: WorkflowHandle, updateId: string): Promise<GateState> {
  const click = { args: [{ decision: 'approve', actor: BOB }] as [DecideRequest], updateId };
  const [first, second] = await Promise.all([
    handle.executeUpdate(decideUpdate, click),
    handle.executeUpdate(decideUpdate, click),
  ]);
  assert.deepEqual(first, second);
  return first;
}

/**
 * BOB resolves the incident, waits for the restore gate that resolution opens, and approves it:
 * the temporary mitigations are restored and the incident closes.
 */
export async function resolveAndRestore(handle: WorkflowHandle): Promise<void> {
  await handle.signal(resolveSignal, { actor: BOB });
  await waitForRecord(handle, gatePending('restore'));
  await handle.executeUpdate(decideUpdate, { args: [{ gate: 'restore', decision: 'approve', actor: BOB }] });
}

/** Calls made for one incident, for `FakeWorld.made(name, byIncident(id))`. */
export const byIncident = (id: string) => (input: Record<string, unknown>) => input.incidentId === id;

/** `assert.rejects` predicate: an update refused by the workflow's validator with this failure type. */
export const refusedWith = (type: string) => (err: unknown) =>
  err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure && err.cause.type === type;

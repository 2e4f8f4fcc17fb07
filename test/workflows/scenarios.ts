/**
 * The happy path of each runbook, driven to completion (approvals, resolution, restoration) — one
 * function per runbook, shared by the history recorder (test/record-histories.ts) and the
 * benchmark (bench/kernel.ts).
 */
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { IncidentRecord, RunbookId } from '../../common/types';
import { decideUpdate, resolveSignal } from '../../domain/messages';
import { BOB, fastPolicy, gatePending, startIncident, uniqueTarget, waitForRecord } from './harness';

export type IncidentHandle = WorkflowHandle<(input: unknown) => Promise<IncidentRecord>>;

const policy = fastPolicy({ gateDeadlineMs: 60_000, gateEscalateAfterMs: 60_000, restoreAfterMs: 60_000 });
const approve = (handle: IncidentHandle, gate: string) =>
  handle.executeUpdate(decideUpdate, { args: [{ gate, decision: 'approve', actor: BOB }] });

export const HAPPY_PATHS: Record<RunbookId, (client: Client, taskQueue: string) => Promise<IncidentHandle>> = {
  async 'p0-response'(client, taskQueue) {
    const handle = await startIncident(client, taskQueue, {
      runbook: 'p0-response',
      targets: [uniqueTarget('checkout')],
      params: { healthUrl: 'http://checkout.shop.svc:8080/health' },
      policy,
    });
    await waitForRecord(handle, (r) => r.status === 'mitigated');
    await handle.signal(resolveSignal, { actor: BOB });
    return handle;
  },
  async 'emergency-rollback'(client, taskQueue) {
    const handle = await startIncident(client, taskQueue, {
      runbook: 'emergency-rollback',
      targets: [uniqueTarget('payments')],
      params: { healthUrl: 'http://payments.shop.svc/health' },
      policy,
    });
    await waitForRecord(handle, gatePending('confirm-rollback'));
    await handle.executeUpdate(decideUpdate, {
      args: [{ gate: 'confirm-rollback', decision: 'approve', actor: BOB, choice: '2' }],
    });
    await waitForRecord(handle, (r) => r.status === 'mitigated');
    await handle.signal(resolveSignal, { actor: BOB });
    return handle;
  },
  async 'avalanche-mitigation'(client, taskQueue) {
    const handle = await startIncident(client, taskQueue, {
      runbook: 'avalanche-mitigation',
      targets: [uniqueTarget('frontend'), uniqueTarget('cart')],
      policy,
    });
    await waitForRecord(handle, (r) => r.status === 'mitigated');
    await handle.signal(resolveSignal, { actor: BOB });
    await waitForRecord(handle, gatePending('restore'));
    await approve(handle, 'restore');
    return handle;
  },
  async 'oom-triage'(client, taskQueue) {
    const handle = await startIncident(client, taskQueue, {
      runbook: 'oom-triage',
      targets: [uniqueTarget('api')],
      policy,
    });
    await waitForRecord(handle, gatePending('disable-trace-export'));
    await approve(handle, 'disable-trace-export');
    await waitForRecord(handle, (r) => r.mitigations.length === 3);
    await handle.signal(resolveSignal, { actor: BOB });
    await waitForRecord(handle, gatePending('restore'));
    await approve(handle, 'restore');
    return handle;
  },
};

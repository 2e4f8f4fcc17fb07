/**
 * The happy path of each runbook, driven to completion (approvals, resolution, restoration) — one
 * function per runbook, shared by the history recorder (test/record-histories.ts) and the
 * benchmark (bench/kernel.ts) — and the other paths whose histories are recorded for the replay
 * checks: escalation through every tier, gates rejected and timed out, restoration by policy,
 * cancellation, an alert group that resolves, a continued-as-new run.
 */
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { IncidentRecord, RunbookId } from '../../common/types';
import {
  acknowledgeUpdate,
  alertSignal,
  cancelUpdate,
  decideUpdate,
  resolveSignal,
  type AlertInstance,
  type AlertNotification,
} from '../../domain/messages';
import { BOB, fastPolicy, gatePending, resolveAndRestore, startIncident, uniqueTarget, waitForRecord } from './harness';

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
    await resolveAndRestore(handle);
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
    await resolveAndRestore(handle);
    return handle;
  },
};

export interface RecordedPath {
  runbook: RunbookId;
  drive: (client: Client, taskQueue: string) => Promise<IncidentHandle>;
}

const alertGroup = (alerts: AlertInstance[]): AlertNotification => ({
  source: 'alertmanager',
  receiver: 'firebreak',
  groupKey: '{}:{alertname="ServiceDown"}',
  status: alerts.every((a) => a.status === 'resolved') ? 'resolved' : 'firing',
  truncatedAlerts: 0,
  alerts,
  receivedAt: new Date().toISOString(),
});
const serviceDown = (pod: string, status: 'firing' | 'resolved', description = ''): AlertInstance => ({
  fingerprint: pod,
  status,
  labels: { alertname: 'ServiceDown', pod },
  annotations: description ? { description } : {},
});

/**
 * The non-happy paths, recorded as `<runbook>-<path>.json`. Each ends with the incident closed, so
 * its history holds the whole path.
 */
export const OTHER_PATHS: Record<string, RecordedPath> = {
  'escalated-every-tier': {
    runbook: 'p0-response',
    async drive(client, taskQueue) {
      const handle = await startIncident(client, taskQueue, {
        runbook: 'p0-response',
        targets: [uniqueTarget('checkout')],
        policy: fastPolicy({ ackDeadlineMs: { P0: 1_000, P1: 1_000, P2: 1_000, P3: 1_000 }, repageIntervalMs: 1_000 }),
      });
      await waitForRecord(handle, (r) => r.escalationTier >= 3);
      await handle.executeUpdate(acknowledgeUpdate, { args: [{ actor: BOB, note: 'on it' }] });
      await handle.signal(resolveSignal, { actor: BOB });
      return handle;
    },
  },
  'gate-rejected': {
    runbook: 'p0-response',
    async drive(client, taskQueue) {
      const handle = await startIncident(client, taskQueue, {
        runbook: 'p0-response',
        targets: [uniqueTarget('checkout')],
        policy: fastPolicy({ p0RestartWithoutApproval: false, gateDeadlineMs: 60_000, gateEscalateAfterMs: 60_000 }),
      });
      await waitForRecord(handle, gatePending('restart'));
      await handle.executeUpdate(decideUpdate, { args: [{ gate: 'restart', decision: 'reject', actor: BOB }] });
      return handle;
    },
  },
  'alert-group-resolved': {
    runbook: 'p0-response',
    async drive(client, taskQueue) {
      const handle = await startIncident(client, taskQueue, {
        runbook: 'p0-response',
        targets: [uniqueTarget('checkout')],
        policy,
      });
      await handle.signal(alertSignal, alertGroup([serviceDown('a1', 'firing'), serviceDown('a2', 'firing')]));
      await waitForRecord(handle, (r) => r.status === 'mitigated' && r.alerts.length === 2);
      await handle.signal(alertSignal, alertGroup([serviceDown('a1', 'resolved'), serviceDown('a2', 'firing')]));
      await waitForRecord(handle, (r) => r.alerts.some((a) => a.status === 'resolved'));
      await handle.signal(alertSignal, alertGroup([serviceDown('a1', 'resolved'), serviceDown('a2', 'resolved')]));
      return handle;
    },
  },
  'continued-as-new': {
    runbook: 'p0-response',
    async drive(client, taskQueue) {
      const handle = await startIncident(client, taskQueue, {
        runbook: 'p0-response',
        targets: [uniqueTarget('checkout')],
        policy: fastPolicy({ maxOpenMs: 120_000 }),
      });
      await waitForRecord(handle, (r) => r.status === 'mitigated');
      // Past the history budget (workflows/incident/history.ts) in bulky annotations the record does not keep;
      // the recorded history is the continued run's, which starts from the carried-over state.
      const bulky = serviceDown('c1', 'firing', 'x'.repeat(70_000));
      for (let i = 0; i < 70; i++) await handle.signal(alertSignal, alertGroup([bulky]));
      await waitForRecord(handle, (r) => r.timeline.some((e) => /History is long/.test(e.message)), 60_000);
      await handle.signal(resolveSignal, { actor: BOB });
      return handle;
    },
  },
  'gate-timed-out': {
    runbook: 'emergency-rollback',
    async drive(client, taskQueue) {
      const handle = await startIncident(client, taskQueue, {
        runbook: 'emergency-rollback',
        targets: [uniqueTarget('payments')],
        params: { revision: 1 },
        policy: fastPolicy(),
      });
      await waitForRecord(handle, (r) => r.gates[0]?.overdue === true && r.escalationTier >= 2);
      await handle.signal(resolveSignal, { actor: BOB });
      return handle;
    },
  },
  'restored-by-policy': {
    runbook: 'avalanche-mitigation',
    async drive(client, taskQueue) {
      const handle = await startIncident(client, taskQueue, {
        runbook: 'avalanche-mitigation',
        targets: [uniqueTarget('search')],
        policy: fastPolicy(),
      });
      await waitForRecord(handle, (r) => r.status === 'mitigated');
      await handle.signal(resolveSignal, { actor: BOB });
      return handle;
    },
  },
  cancelled: {
    runbook: 'avalanche-mitigation',
    async drive(client, taskQueue) {
      const handle = await startIncident(client, taskQueue, {
        runbook: 'avalanche-mitigation',
        targets: [uniqueTarget('search')],
        policy,
      });
      await waitForRecord(handle, (r) => r.status === 'mitigated');
      await handle.executeUpdate(cancelUpdate, { args: [{ actor: BOB, reason: 'false alarm', restoreNow: true }] });
      return handle;
    },
  },
  'gate-rejected-export': {
    runbook: 'oom-triage',
    async drive(client, taskQueue) {
      const handle = await startIncident(client, taskQueue, {
        runbook: 'oom-triage',
        targets: [uniqueTarget('api')],
        policy,
      });
      await waitForRecord(handle, gatePending('disable-trace-export'));
      await handle.executeUpdate(decideUpdate, {
        args: [{ gate: 'disable-trace-export', decision: 'reject', actor: BOB }],
      });
      await waitForRecord(handle, (r) => r.timeline.some((e) => /Trace export left on/.test(e.message)));
      await resolveAndRestore(handle);
      return handle;
    },
  },
};

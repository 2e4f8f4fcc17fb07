/**
 * Kernel behaviour every runbook shares, on the real dev server: alerts for the same incident
 * (partial views never close it), the maximum open time, search attributes and the Slack thread.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Client, Connection } from '@temporalio/client';
import { statusKey } from '../../common/search-attributes';
import {
  alertSignal,
  resolveSignal,
  type AlertInstance,
  type AlertNotification,
} from '../../workflows/incident/messages';
import { connectTestClient, runTestWorker, uniqueTaskQueue, type TestWorker } from '../bed/worker';
import { FakeWorld } from './fakes';
import { BOB, fastPolicy, sleep, startIncident, timelineText, waitForRecord } from './harness';

let client: Client;
let connection: Connection;
let worker: TestWorker;
const world = new FakeWorld();

before(async () => {
  ({ client, connection } = await connectTestClient());
  worker = await runTestWorker({ activities: world.activities(), taskQueue: uniqueTaskQueue('kernel') });
});

after(async () => {
  await worker?.stop();
  await connection?.close();
});

function notification(alerts: AlertInstance[], truncatedAlerts = 0): AlertNotification {
  return {
    source: 'alertmanager',
    receiver: 'firebreak',
    groupKey: '{}:{alertname="ServiceDown"}',
    status: alerts.every((a) => a.status === 'resolved') ? 'resolved' : 'firing',
    truncatedAlerts,
    alerts,
    receivedAt: new Date().toISOString(),
  };
}
const alert = (fingerprint: string, status: 'firing' | 'resolved'): AlertInstance => ({
  fingerprint,
  status,
  labels: { alertname: 'ServiceDown', pod: fingerprint },
  annotations: {},
});

describe('kernel', { concurrency: true }, () => {
  test('alerts: a truncated view never resolves; a complete all-resolved view does', async () => {
    const handle = await startIncident(client, worker.taskQueue, { runbook: 'p0-response' });
    await handle.signal(alertSignal, notification([alert('a1', 'firing'), alert('a2', 'firing')]));
    await waitForRecord(handle, (r) => r.status === 'mitigated' && r.alerts.length === 2);
    await handle.signal(alertSignal, notification([alert('a1', 'resolved'), alert('a2', 'resolved')], 4));
    const partial = await waitForRecord(
      handle,
      (r) => r.alertsPartial && r.alerts.every((a) => a.status === 'resolved'),
    );
    await sleep(1_000);
    assert.equal((await waitForRecord(handle, () => true)).status, 'mitigated', 'a partial view is not proof');
    assert.equal(partial.closedAt, undefined);
    await handle.signal(alertSignal, notification([alert('a1', 'resolved'), alert('a2', 'resolved')]));
    const record = await handle.result();
    assert.equal(record.status, 'resolved');
    assert.match(
      record.outcome ?? '',
      /^Resolved: every alert of the incident resolved \(runbook: RECOVERY: .* recovered\)$/,
    );
    assert.equal(record.timeline.filter((e) => e.kind === 'alert').length, 4, 'one entry per status change');
  });

  test('alerts do not resolve when the policy says so', async () => {
    const policy = fastPolicy({ resolveWhenAlertsResolve: false });
    const handle = await startIncident(client, worker.taskQueue, { runbook: 'p0-response', policy });
    await handle.signal(alertSignal, notification([alert('b1', 'resolved')]));
    await waitForRecord(handle, (r) => r.status === 'mitigated' && r.alerts.length === 1);
    await sleep(1_000);
    assert.equal((await waitForRecord(handle, () => true)).closedAt, undefined);
    await handle.signal(resolveSignal, { actor: BOB });
    assert.equal((await handle.result()).status, 'resolved');
  });

  test('resolved while a runbook gate waits: the gate is withdrawn, nothing more is done', async () => {
    const policy = fastPolicy({ p0RestartWithoutApproval: false, gateDeadlineMs: 60_000, gateEscalateAfterMs: 60_000 });
    const handle = await startIncident(client, worker.taskQueue, { runbook: 'p0-response', policy });
    await waitForRecord(handle, (r) => r.gates.some((g) => g.status === 'pending'));
    await handle.signal(resolveSignal, { actor: BOB, note: 'fixed by hand' });
    const record = await handle.result();
    assert.equal(record.status, 'resolved');
    assert.equal(record.gates[0]!.status, 'rejected');
    assert.equal(record.gates[0]!.comment, 'withdrawn: the incident was resolved');
    assert.equal(record.failure, undefined);
    assert.equal(record.outcome, 'Resolved by bob');
    assert.equal(world.made('rolloutRestart', (i) => i.incidentId === record.id).length, 0);
  });

  test('every alert resolved while a runbook gate waits: the gate is withdrawn, no page, no remediation', async () => {
    const policy = fastPolicy({ p0RestartWithoutApproval: false, gateDeadlineMs: 60_000, gateEscalateAfterMs: 60_000 });
    const handle = await startIncident(client, worker.taskQueue, { runbook: 'p0-response', policy });
    await handle.signal(alertSignal, notification([alert('w1', 'firing')]));
    await waitForRecord(handle, (r) => r.gates.some((g) => g.status === 'pending') && r.alerts.length === 1);
    await handle.signal(alertSignal, notification([alert('w1', 'resolved')]));
    const record = await handle.result();
    assert.equal(record.status, 'resolved');
    assert.equal(record.gates[0]!.status, 'rejected');
    assert.equal(record.gates[0]!.comment, 'withdrawn: the incident was resolved');
    assert.match(record.outcome ?? '', /every alert of the incident resolved/);
    assert.equal(world.made('rolloutRestart', (i) => i.incidentId === record.id).length, 0);
    assert.equal(world.made('triggerPage', (i) => i.incidentId === record.id).length, 0);
  });

  test('nobody resolves within the maximum open time: closed as failed, still restoring mitigations', async () => {
    const policy = fastPolicy({ maxOpenMs: 3_000, restoreAfterMs: 500 });
    const handle = await startIncident(client, worker.taskQueue, { runbook: 'avalanche-mitigation', policy });
    const record = await handle.result();
    assert.equal(record.status, 'failed');
    assert.match(record.outcome ?? '', /maximum open time/);
    assert.equal(world.mutations(`${record.id}:restore`).length, 3);
  });

  test('search attributes follow the status; visibility lists incidents by status', async () => {
    const handle = await startIncident(client, worker.taskQueue, { runbook: 'p0-response' });
    const { id } = await waitForRecord(handle, (r) => r.status === 'mitigated');
    assert.equal((await handle.describe()).typedSearchAttributes.get(statusKey), 'mitigated');
    let listed: string[] = [];
    for (let attempt = 0; attempt < 50 && !listed.includes(handle.workflowId); attempt++) {
      listed = [];
      for await (const execution of client.workflow.list({
        query: `FirebreakStatus = 'mitigated' AND FirebreakRunbook = 'p0-response'`,
      })) {
        listed.push(execution.workflowId);
      }
      await sleep(200);
    }
    assert.ok(listed.includes(handle.workflowId), 'listed by FirebreakStatus');
    await handle.signal(resolveSignal, { actor: BOB });
    await handle.result();
    assert.equal((await handle.describe()).typedSearchAttributes.get(statusKey), 'resolved');
    const posted = world
      .made('postTimelineEntry', (i) => i.incidentId === id)
      .map((c) => (c.input.entry as { message: string }).message);
    const record = await handle.result();
    assert.ok(posted.length > 5, 'the timeline is posted to the card thread');
    const inThread = record.timeline.filter((e) => posted.includes(e.message)).map((e) => e.message);
    assert.deepEqual(posted, inThread, 'in timeline order');
    assert.ok(world.made('publishIncidentCard', (i) => (i.incident as { id: string }).id === id).length >= 2);
    assert.match(timelineText(record), /Incident closed: resolved/);
  });
});

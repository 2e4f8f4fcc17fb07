/**
 * Kernel behaviour every runbook shares, on the real dev server: alerts for the same incident
 * (partial views never close it), the maximum open time, search attributes and the Slack thread.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { statusKey } from '../../common/search-attributes';
import { alertSignal, resolveSignal, type AlertInstance, type AlertNotification } from '../../domain/messages';
import { runTestWorker, uniqueTaskQueue } from '../bed/worker';
import { FakeWorld } from './fakes';
import { workerOnFakeWorld } from './file-worker';
import {
  BOB,
  cancellationHandled,
  fastPolicy,
  history,
  sleep,
  startIncident,
  timelineText,
  waitForRecord,
} from './harness';

const world = new FakeWorld();
const bed = workerOnFakeWorld(world, 'kernel');

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
    const handle = await startIncident(bed.client, bed.taskQueue, { runbook: 'p0-response' });
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
    const summaries = record.timeline.filter((e) => e.kind === 'alert');
    assert.ok(summaries.length >= 1 && summaries.length <= 3, 'at most one entry per notification');
    assert.match(summaries.at(-1)!.message, /^Alerts: 0 firing, 2 resolved — 2 seen$/);
  });

  test('alerts do not resolve when the policy says so', async () => {
    const policy = fastPolicy({ resolveWhenAlertsResolve: false });
    const handle = await startIncident(bed.client, bed.taskQueue, { runbook: 'p0-response', policy });
    await handle.signal(alertSignal, notification([alert('b1', 'resolved')]));
    await waitForRecord(handle, (r) => r.status === 'mitigated' && r.alerts.length === 1);
    await sleep(1_000);
    assert.equal((await waitForRecord(handle, () => true)).closedAt, undefined);
    await handle.signal(resolveSignal, { actor: BOB });
    assert.equal((await handle.result()).status, 'resolved');
  });

  test('resolved while a runbook gate waits: the gate is withdrawn, nothing more is done', async () => {
    const policy = fastPolicy({ p0RestartWithoutApproval: false, gateDeadlineMs: 60_000, gateEscalateAfterMs: 60_000 });
    const handle = await startIncident(bed.client, bed.taskQueue, { runbook: 'p0-response', policy });
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
    const handle = await startIncident(bed.client, bed.taskQueue, { runbook: 'p0-response', policy });
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
    // Long enough for the hold claim and four mitigations on a loaded machine, so they exist to restore.
    const policy = fastPolicy({ maxOpenMs: 20_000, restoreAfterMs: 500 });
    const handle = await startIncident(bed.client, bed.taskQueue, { runbook: 'avalanche-mitigation', policy });
    const record = await handle.result();
    assert.equal(record.status, 'failed');
    assert.match(record.outcome ?? '', /maximum open time/);
    assert.equal(world.mutations(`${record.id}:restore`).length, 3);
  });

  test('search attributes follow the status; visibility lists incidents by status', async () => {
    const handle = await startIncident(bed.client, bed.taskQueue, { runbook: 'p0-response' });
    const { id } = await waitForRecord(handle, (r) => r.status === 'mitigated');
    assert.equal((await handle.describe()).typedSearchAttributes.get(statusKey), 'mitigated');
    let listed: string[] = [];
    for (let attempt = 0; attempt < 50 && !listed.includes(handle.workflowId); attempt++) {
      listed = [];
      for await (const execution of bed.client.workflow.list({
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

test('kernel: a long history continues as new with the incident intact; a resolution during the hand-over is kept', async () => {
  // The card thread is held, so the hand-over (which first lets the thread catch up) is still under way
  // when the resolution arrives.
  const held = new FakeWorld({ hold: new Set(['postTimelineEntry']) });
  const own = await runTestWorker({ activities: held.activities(), taskQueue: uniqueTaskQueue('kernel-can') });
  try {
    const policy = fastPolicy({ maxOpenMs: 45_000 });
    const handle = await startIncident(bed.client, own.taskQueue, { runbook: 'p0-response', policy });
    await waitForRecord(handle, (r) => r.status === 'mitigated');
    // Temporal suggests continuing as new past 4 MB of history: bulky annotations (not kept in the record) get there.
    // Small enough apiece that no single workflow task outgrows a gRPC message.
    const bulky: AlertInstance = { ...alert('c1', 'firing'), annotations: { description: 'x'.repeat(70_000) } };
    for (let i = 0; i < 70; i++) await handle.signal(alertSignal, notification([bulky]));
    await waitForRecord(handle, (r) => /History is long/.test(timelineText(r)), 30_000);
    await handle.signal(resolveSignal, { actor: BOB, note: 'fixed by hand' });
    await waitForRecord(handle, (r) => /Resolution requested by bob/.test(timelineText(r)));
    held.release('postTimelineEntry');

    const record = await handle.result();
    const [started] = await history(handle);
    assert.ok(started?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId, 'a new run finished it');
    assert.equal(record.status, 'resolved');
    assert.match(record.outcome ?? '', /^Resolved by bob/);
    assert.equal(record.alerts.length, 1, 'alert state carried over');
    assert.equal(record.timeline.filter((e) => e.kind === 'opened').length, 1, 'the timeline carried over, once');
    assert.equal(held.made('rolloutRestart', (i) => i.incidentId === record.id).length, 1, 'the runbook ran once');
  } finally {
    held.release('postTimelineEntry');
    await own.stop();
  }
});

test('kernel: continued as new before the response time, the first page still comes at the response time', async () => {
  const fresh = new FakeWorld();
  const own = await runTestWorker({ activities: fresh.activities(), taskQueue: uniqueTaskQueue('kernel-can-ack') });
  try {
    // Long enough that 70 bulky signals and the hand-over fit in it on a loaded machine.
    const responseMs = 30_000;
    const policy = fastPolicy({
      ackDeadlineMs: { P0: responseMs, P1: responseMs, P2: responseMs, P3: responseMs },
      repageIntervalMs: 60_000,
      maxOpenMs: 120_000,
    });
    const handle = await startIncident(bed.client, own.taskQueue, { runbook: 'p0-response', policy });
    await waitForRecord(handle, (r) => r.status === 'mitigated');
    // Late enough in the response time that granting it again would show.
    await sleep(4_000);
    const bulky: AlertInstance = { ...alert('d1', 'firing'), annotations: { description: 'x'.repeat(70_000) } };
    for (let i = 0; i < 70; i++) await handle.signal(alertSignal, notification([bulky]));
    const continued = await waitForRecord(handle, (r) => /History is long/.test(timelineText(r)), 60_000);
    assert.equal(continued.escalationTier, 0, 'continued as new before the response time ran out');
    const paged = await waitForRecord(handle, (r) => r.escalationTier > 0, 60_000);
    const escalation = paged.timeline.find((e) => e.kind === 'escalation')!;
    const afterOpening = Date.parse(escalation.at) - Date.parse(paged.openedAt);
    assert.ok(afterOpening < responseMs + 2_500, `paged ${afterOpening} ms after opening; response time ${responseMs}`);
    await handle.signal(resolveSignal, { actor: BOB });
    assert.equal((await handle.result()).status, 'resolved');
  } finally {
    await own.stop();
  }
});

/** PagerDuty first, after a 1 s response time: an unacknowledged incident pages almost at once. */
const pageFirst = fastPolicy({
  ackDeadlineMs: { P0: 1_000, P1: 1_000, P2: 1_000, P3: 1_000 },
  repageIntervalMs: 60_000,
  tiers: [{ name: 'PagerDuty', kind: 'pagerduty', mentions: [] }],
  maxOpenMs: 60_000,
});

test('kernel: cancelled while a page is being sent: the page is still resolved when the incident closes', async () => {
  const held = new FakeWorld({ hold: new Set(['triggerPage']) });
  const own = await runTestWorker({ activities: held.activities(), taskQueue: uniqueTaskQueue('kernel-page-cancel') });
  try {
    const handle = await startIncident(bed.client, own.taskQueue, { runbook: 'p0-response', policy: pageFirst });
    await held.reached('triggerPage');
    await handle.cancel();
    await cancellationHandled(handle);
    held.release('triggerPage');
    const record = await handle.result();
    assert.equal(record.status, 'cancelled');
    assert.equal(held.made('triggerPage', (i) => i.incidentId === record.id).length, 1);
    assert.equal(held.made('resolvePage', (i) => i.incidentId === record.id).length, 1, 'no page left open');
  } finally {
    held.release('triggerPage');
    await own.stop();
  }
});

test('kernel: continued as new while a page is being sent: the new run knows of the page', async () => {
  const held = new FakeWorld({ hold: new Set(['triggerPage']) });
  const own = await runTestWorker({ activities: held.activities(), taskQueue: uniqueTaskQueue('kernel-page-can') });
  try {
    const handle = await startIncident(bed.client, own.taskQueue, { runbook: 'p0-response', policy: pageFirst });
    await held.reached('triggerPage');
    await waitForRecord(handle, (r) => r.status === 'mitigated');
    const bulky: AlertInstance = { ...alert('e1', 'firing'), annotations: { description: 'x'.repeat(70_000) } };
    for (let i = 0; i < 70; i++) await handle.signal(alertSignal, notification([bulky]));
    await waitForRecord(handle, (r) => /History is long/.test(timelineText(r)), 30_000);
    await sleep(1_000);
    held.release('triggerPage');
    await handle.signal(resolveSignal, { actor: BOB });
    const record = await handle.result();
    assert.equal(record.status, 'resolved');
    assert.equal(held.made('resolvePage', (i) => i.incidentId === record.id).length, 1, 'no page left open');
  } finally {
    held.release('triggerPage');
    await own.stop();
  }
});

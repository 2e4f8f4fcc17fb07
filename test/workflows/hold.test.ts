/**
 * The deployment hold on the real dev server with typed fake activities: a second incident on a
 * held deployment changes nothing and names the holder; an approver forces it through; a waiter
 * resolved meanwhile leaves the queue; the hold ends when nobody holds or waits.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HOLD_WORKFLOW_TYPE, holdQuery, holdWorkflowId, type HoldInput } from '../../domain/hold';
import { decideUpdate, resolveSignal } from '../../domain/messages';
import proto from '@temporalio/proto';
import { describeWorkflow } from '../bed/diagnose';
import { runTestWorker, uniqueTaskQueue } from '../bed/worker';
import { FakeWorld } from './fakes';
import { workerOnFakeWorld } from './file-worker';
import { BOB, byIncident, fastPolicy, gatePending, startIncident, uniqueTarget, waitForRecord } from './harness';

const world = new FakeWorld();
const bed = workerOnFakeWorld(world, 'hold');
const policy = fastPolicy({ p0RestartWithoutApproval: false, gateDeadlineMs: 60_000, gateEscalateAfterMs: 60_000 });

describe('deployment hold', () => {
  test('a rollback on a deployment a P0 response holds waits, names it, and is forced through by an approver', async () => {
    const target = uniqueTarget('checkout');
    const holder = await startIncident(bed.client, bed.taskQueue, {
      runbook: 'p0-response',
      targets: [target],
      policy,
    });
    const held = await waitForRecord(holder, gatePending('restart'), 45_000);
    assert.equal(held.holds?.[0]?.state, 'held');

    const waiter = await startIncident(bed.client, bed.taskQueue, {
      runbook: 'emergency-rollback',
      targets: [target],
      params: { revision: 1 },
      policy,
    });
    const waiting = await waitForRecord(waiter, gatePending('force-through'), 45_000);
    assert.equal(waiting.holds?.[0]?.state, 'waiting');
    assert.equal(waiting.holds?.[0]?.holder?.incidentId, held.id);
    assert.ok(!waiting.gates.some((g) => g.name === 'confirm-rollback'), 'the waiter did not go on');
    const view = await bed.client.workflow.getHandle(holdWorkflowId(target)).query(holdQuery);
    assert.equal(view.holder?.incidentId, held.id);
    assert.deepEqual(
      view.waiting.map((w) => w.incidentId),
      [waiting.id],
    );
    await waitForRecord(holder, (r) => r.holds?.[0]?.waiters?.[0]?.incidentId === waiting.id);

    await waiter.executeUpdate(decideUpdate, { args: [{ gate: 'force-through', decision: 'approve', actor: BOB }] });
    const forced = await waitForRecord(waiter, gatePending('confirm-rollback'), 45_000);
    assert.equal(forced.holds?.[0]?.state, 'forced');
    assert.ok(forced.timeline.some((e) => /Forced through by bob/.test(e.message)));

    for (const handle of [waiter, holder]) await handle.signal(resolveSignal, { actor: BOB });
    await Promise.all([waiter.result(), holder.result()]);
    assert.equal(world.made('rolloutUndo', byIncident(forced.id)).length, 0);
    await waitForHoldClosed(target);
  });

  test('a waiter resolved meanwhile leaves the queue; the holder closes and the hold ends', async () => {
    const target = uniqueTarget('cart');
    const holder = await startIncident(bed.client, bed.taskQueue, {
      runbook: 'p0-response',
      targets: [target],
      policy,
    });
    await waitForRecord(holder, gatePending('restart'), 45_000);
    const waiter = await startIncident(bed.client, bed.taskQueue, {
      runbook: 'emergency-rollback',
      targets: [target],
      params: { revision: 1 },
      policy,
    });
    await waitForRecord(waiter, (r) => r.holds?.[0]?.state === 'waiting', 45_000);
    await waiter.signal(resolveSignal, { actor: BOB });
    const closed = await waiter.result();
    assert.equal(closed.status, 'resolved');
    assert.equal(closed.holds?.[0]?.state, 'released');
    const view = await bed.client.workflow.getHandle(holdWorkflowId(target)).query(holdQuery);
    assert.deepEqual(view.waiting, []);
    await holder.signal(resolveSignal, { actor: BOB });
    await holder.result();
    await waitForHoldClosed(target);
  });

  test('a worker shut down while a hold claim waits on a hold nobody serves still stops', async () => {
    // The claim is an update the hold's workflow task answers; a worker shutting down polls no more
    // workflow tasks (here: nobody serves the hold's task queue at all). The claim must end with the
    // worker's cancellation, or the worker waits for it forever and the test file never exits.
    const target = uniqueTarget('orders');
    const input: HoldInput = { target };
    const stray = await bed.client.workflow.start(HOLD_WORKFLOW_TYPE, {
      workflowId: holdWorkflowId(target),
      taskQueue: uniqueTaskQueue('hold-nobody-serves'),
      args: [input],
    });
    const stopping = await runTestWorker({ activities: world.activities(), taskQueue: uniqueTaskQueue('hold-stop') });
    const incident = await startIncident(bed.client, stopping.taskQueue, {
      runbook: 'emergency-rollback',
      targets: [target],
      params: { revision: 1 },
      policy,
    });
    try {
      await waitForPendingActivity(incident.workflowId, 'requestHold');
      // Bounded (test/bed/worker.ts): rejects naming the stuck activity instead of hanging.
      await stopping.stop();
      const described = await incident.describe();
      const claim = described.raw.pendingActivities?.find((a) => a.activityType?.name === 'requestHold');
      assert.ok(claim, 'the claim is still the incident’s pending activity, to be retried by the next worker');
    } finally {
      await stopping.stop().catch(() => undefined);
      await incident.terminate('test done');
      await stray.terminate('test done');
    }
  });
});

/** Waits until the workflow's pending activities include a started `name`. */
async function waitForPendingActivity(workflowId: string, name: string): Promise<void> {
  const deadline = Date.now() + 45_000;
  while (Date.now() < deadline) {
    const described = await bed.client.workflow.getHandle(workflowId).describe();
    const started = described.raw.pendingActivities?.some(
      (a) =>
        a.activityType?.name === name &&
        a.state === proto.temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED,
    );
    if (started) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail(
    `${workflowId} never started ${name}: ${await describeWorkflow(bed.client.workflow.getHandle(workflowId))}`,
  );
}

async function waitForHoldClosed(target: { namespace: string; deployment: string }): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const described = await bed.client.workflow.getHandle(holdWorkflowId(target)).describe();
    if (described.status.name === 'COMPLETED') return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  assert.fail('the hold workflow did not end');
}

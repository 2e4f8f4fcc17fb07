/**
 * RB2 on the real dev server with typed fake activities: history, the four-eyes confirm gate (with
 * the revision chosen in the decision), undo exactly once, rollout and health.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decideUpdate, resolveSignal, type DecideRequest } from '../../domain/messages';
import { runTestWorker, uniqueTaskQueue } from '../bed/worker';
import { FakeWorld } from './fakes';
import { workerOnFakeWorld } from './file-worker';
import {
  ALICE,
  BOB,
  CAROL,
  MALLORY,
  acknowledgeBeforeDeadline,
  byIncident,
  eventTypes,
  fastPolicy,
  gatePending,
  refusedWith,
  startIncident,
  timelineText,
  uniqueTarget,
  waitForRecord,
} from './harness';

const world = new FakeWorld();
const bed = workerOnFakeWorld(world, 'rollback');
const GATE = 'confirm-rollback';
const slow = fastPolicy({ gateDeadlineMs: 60_000, gateEscalateAfterMs: 60_000 });

describe('emergency-rollback', { concurrency: true }, () => {
  test('happy path: history, confirmed by a second person, undo once, rollout, healthy', async () => {
    const target = uniqueTarget('payments');
    const handle = await startIncident(bed.client, bed.taskQueue, {
      runbook: 'emergency-rollback',
      targets: [target],
      params: { revision: '2', healthUrl: 'http://payments.shop.svc/health' },
      policy: slow,
    });
    const pending = await waitForRecord(handle, gatePending(GATE));
    const gate = pending.gates.find((g) => g.name === GATE)!;
    assert.match(gate.prompt, /Are you sure you want to roll back .* to revision 2\?/);
    assert.equal(gate.fourEyes, true);
    assert.equal(gate.choices, undefined);
    await handle.executeUpdate(decideUpdate, { args: [{ decision: 'approve', actor: BOB }] });
    const record = await waitForRecord(handle, (r) => r.status === 'mitigated');
    assert.match(timelineText(record), /Rollback successful and application is healthy/);
    const undo = world.made('rolloutUndo', byIncident(record.id));
    assert.equal(undo.length, 1);
    assert.equal(undo[0]!.input.toRevision, 2);
    assert.equal(world.made('rolloutHistory', (i) => i.deployment === target.deployment).length, 1);
    await handle.signal(resolveSignal, { actor: BOB });
    const closed = await handle.result();
    assert.equal(closed.status, 'resolved');
    assert.deepEqual(closed.mitigations, [], 'a rollback is not a temporary mitigation');
    assert.equal(world.mutations(`${record.id}:restore`).length, 0);
  });

  test('no revision given: the request lists the revisions and the decision carries the choice', async () => {
    const handle = await startIncident(bed.client, bed.taskQueue, { runbook: 'emergency-rollback', policy: slow });
    const pending = await waitForRecord(handle, gatePending(GATE));
    assert.deepEqual(pending.gates[0]!.choices, ['2', '1']);
    await waitForRecord(handle, () => world.made('postApprovalRequest', byIncident(pending.id)).length === 1);
    const posted = world.made('postApprovalRequest', byIncident(pending.id))[0]!.input.gate as { choices: string[] };
    assert.deepEqual(posted.choices, ['2', '1']);
    await assert.rejects(
      handle.executeUpdate(decideUpdate, { args: [{ decision: 'approve', actor: BOB }] }),
      refusedWith('INVALID_INPUT'),
    );
    await assert.rejects(
      handle.executeUpdate(decideUpdate, { args: [{ decision: 'approve', actor: BOB, choice: '3' }] }),
      refusedWith('INVALID_INPUT'),
    );
    const gate = await handle.executeUpdate(decideUpdate, { args: [{ decision: 'approve', actor: BOB, choice: '1' }] });
    assert.equal(gate.choice, '1');
    const record = await waitForRecord(handle, (r) => r.status === 'mitigated');
    assert.deepEqual(
      world.made('rolloutUndo', byIncident(record.id)).map((c) => c.input.toRevision),
      [1],
    );
    await handle.signal(resolveSignal, { actor: BOB });
    await handle.result();
  });

  test('rejected: "Rollback cancelled", nothing undone', async () => {
    const handle = await startIncident(bed.client, bed.taskQueue, {
      runbook: 'emergency-rollback',
      params: { revision: 1 },
      policy: slow,
    });
    await waitForRecord(handle, gatePending(GATE));
    await handle.executeUpdate(decideUpdate, {
      args: [{ decision: 'reject', actor: ALICE, comment: 'wrong service' }],
    });
    const record = await handle.result();
    assert.equal(record.status, 'cancelled');
    assert.equal(record.outcome, 'Rollback cancelled');
    assert.equal(record.gates[0]!.comment, 'wrong service');
    assert.equal(world.made('rolloutUndo', byIncident(record.id)).length, 0);
  });

  test('timed out: escalation paged, never approved, nothing undone; resolving withdraws the overdue gate', async () => {
    const handle = await startIncident(bed.client, bed.taskQueue, {
      runbook: 'emergency-rollback',
      params: { revision: 1 },
    });
    const overdue = await waitForRecord(handle, (r) => r.gates[0]?.overdue === true && r.escalationTier >= 2);
    assert.equal(overdue.gates[0]!.status, 'pending');
    assert.equal(overdue.status, 'open');
    await handle.signal(resolveSignal, { actor: BOB });
    const record = await handle.result();
    assert.equal(record.status, 'resolved');
    assert.equal(record.gates[0]!.status, 'rejected');
    assert.match(record.gates[0]!.comment ?? '', /withdrawn/);
    assert.equal(world.made('rolloutUndo', byIncident(record.id)).length, 0);
  });

  test('self-approval and outsiders are refused by the validator, nothing in history; a group member may approve', async () => {
    const handle = await startIncident(bed.client, bed.taskQueue, {
      runbook: 'emergency-rollback',
      params: { revision: 2 },
      policy: slow,
    });
    await waitForRecord(handle, gatePending(GATE));
    await assert.rejects(
      handle.executeUpdate(decideUpdate, { args: [{ decision: 'approve', actor: ALICE }] }),
      refusedWith('SELF_APPROVAL'),
    );
    await assert.rejects(
      handle.executeUpdate(decideUpdate, { args: [{ decision: 'approve', actor: MALLORY }] }),
      refusedWith('UNAUTHORIZED'),
    );
    assert.deepEqual(
      (await eventTypes(handle)).filter((t) => t.includes('UPDATE')),
      [],
    );
    await handle.executeUpdate(decideUpdate, { args: [{ decision: 'approve', actor: CAROL }] });
    const record = await waitForRecord(handle, (r) => r.status === 'mitigated');
    assert.equal(record.gates[0]!.decidedBy?.id, CAROL.id);
    await handle.signal(resolveSignal, { actor: CAROL });
    await handle.result();
  });

  test('a double click is one decision', async () => {
    const handle = await startIncident(bed.client, bed.taskQueue, {
      runbook: 'emergency-rollback',
      params: { revision: 2 },
      policy: slow,
    });
    await waitForRecord(handle, gatePending(GATE));
    const click = { args: [{ decision: 'approve', actor: BOB }] as [DecideRequest], updateId: 'slack-rollback-click' };
    const first = await handle.executeUpdate(decideUpdate, click);
    const second = await handle.executeUpdate(decideUpdate, click);
    assert.deepEqual(second, first);
    const record = await waitForRecord(handle, (r) => r.status === 'mitigated');
    assert.equal(record.timeline.filter((e) => e.kind === 'decision').length, 1);
    assert.equal((await eventTypes(handle)).filter((t) => t.endsWith('UPDATE_ACCEPTED')).length, 1);
    assert.equal(world.made('rolloutUndo', byIncident(record.id)).length, 1);
    await handle.signal(resolveSignal, { actor: BOB });
    await handle.result();
  });

  test('acknowledged before the deadline: nobody is paged', async () => {
    const { handle, record } = await acknowledgeBeforeDeadline(bed.client, bed.taskQueue, {
      runbook: 'emergency-rollback',
      params: { revision: 2 },
      policy: slow,
    });
    assert.equal(record.escalationTier, 0);
    assert.equal(world.made('postEscalation', byIncident(record.id)).length, 0);
    assert.equal(world.made('triggerPage', byIncident(record.id)).length, 0);
    // On a loaded machine the confirmation may not be asked yet when the acknowledgement deadline passes.
    await waitForRecord(handle, gatePending(GATE));
    await handle.executeUpdate(decideUpdate, { args: [{ decision: 'reject', actor: BOB }] });
    await handle.result();
  });

  test('unhealthy after the rollback: a failure that escalates', async () => {
    const sick = new FakeWorld({ health: [false] });
    const sickWorker = await runTestWorker({ activities: sick.activities(), taskQueue: uniqueTaskQueue('rb-sick') });
    try {
      const handle = await startIncident(bed.client, sickWorker.taskQueue, {
        runbook: 'emergency-rollback',
        params: { revision: 2, healthUrl: 'http://payments.shop.svc/health' },
        policy: slow,
      });
      await waitForRecord(handle, gatePending(GATE));
      await handle.executeUpdate(decideUpdate, { args: [{ decision: 'approve', actor: BOB }] });
      const record = await waitForRecord(handle, (r) => r.escalationTier === 1);
      assert.equal(record.outcome, 'Rollback completed but application is not healthy');
      assert.equal(record.failure?.type, 'UNHEALTHY_AFTER_REMEDIATION');
      assert.notEqual(record.status, 'mitigated');
      await handle.signal(resolveSignal, { actor: BOB });
      assert.equal((await handle.result()).status, 'resolved');
    } finally {
      await sickWorker.stop();
    }
  });

  test('a revision that is not in the history is refused before any gate, and escalates', async () => {
    const handle = await startIncident(bed.client, bed.taskQueue, {
      runbook: 'emergency-rollback',
      params: { revision: 42 },
      policy: slow,
    });
    const record = await waitForRecord(handle, (r) => r.failure !== undefined && r.escalationTier === 1);
    assert.equal(record.failure?.type, 'REVISION_NOT_FOUND');
    assert.deepEqual(record.gates, []);
    await handle.signal(resolveSignal, { actor: BOB });
    await handle.result();
  });

  test('cancelled by a human while waiting for approval: remediation stops cleanly', async () => {
    const handle = await startIncident(bed.client, bed.taskQueue, {
      runbook: 'emergency-rollback',
      params: { revision: 2 },
      policy: slow,
    });
    await waitForRecord(handle, gatePending(GATE));
    await handle.cancel();
    const record = await handle.result();
    assert.equal(record.status, 'cancelled');
    assert.equal(record.gates[0]!.status, 'rejected');
    assert.match(record.gates[0]!.comment ?? '', /cancelled/);
    assert.equal(world.made('rolloutUndo', byIncident(record.id)).length, 0);
    await assert.rejects(
      handle.executeUpdate(decideUpdate, { args: [{ decision: 'approve', actor: BOB }] }),
      (err: unknown) => err instanceof Error,
    );
  });
});

test('emergency-rollback: a worker stopped while the gate waits is replaced; undo runs exactly once', async () => {
  const shared = new FakeWorld();
  const taskQueue = uniqueTaskQueue('rb-replace');
  const first = await runTestWorker({ activities: shared.activities(), taskQueue });
  const handle = await startIncident(bed.client, taskQueue, {
    runbook: 'emergency-rollback',
    params: { revision: 1 },
    policy: slow,
  });
  await waitForRecord(handle, gatePending(GATE));
  await first.stop();
  const second = await runTestWorker({ activities: shared.activities(), taskQueue });
  try {
    await handle.executeUpdate(decideUpdate, { args: [{ decision: 'approve', actor: BOB }] });
    await waitForRecord(handle, (r) => r.status === 'mitigated', 60_000);
    await handle.signal(resolveSignal, { actor: BOB });
    await handle.result();
    assert.equal(shared.made('rolloutHistory').length, 1);
    assert.equal(shared.made('rolloutUndo').length, 1);
    assert.equal(shared.mutations().length, 1);
  } finally {
    await second.stop();
  }
});

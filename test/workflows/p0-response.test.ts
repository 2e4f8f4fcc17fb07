/**
 * RB1 on the real dev server with typed fake activities: the runbook's steps, its optional
 * restart gate, escalation and acknowledgement, and a worker replaced mid-runbook.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { statusKey } from '../../common/search-attributes';
import { acknowledgeUpdate, decideUpdate, resolveSignal } from '../../domain/messages';
import { runTestWorker, uniqueTaskQueue } from '../bed/worker';
import { FakeWorld } from './fakes';
import { replaceWorkerWhileHeld, workerOnFakeWorld } from './file-worker';
import {
  ALICE,
  BOB,
  MALLORY,
  approveTwiceAtOnce,
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
const bed = workerOnFakeWorld(world, 'p0');
const HEALTH = { healthUrl: 'http://checkout.shop.svc:8080/health' };

describe('p0-response', { concurrency: true }, () => {
  test('happy path: notify, diagnostics, restart once, rollout, healthy → RECOVERY, resolved', async () => {
    const target = uniqueTarget('checkout');
    const handle = await startIncident(bed.client, bed.taskQueue, {
      runbook: 'p0-response',
      targets: [target],
      params: HEALTH,
    });
    const mitigated = await waitForRecord(handle, (r) => r.status === 'mitigated');
    const id = mitigated.id;
    const text = timelineText(mitigated);
    assert.match(text, new RegExp(`P0 INCIDENT: ${target.deployment} is down — incident ${id}`));
    assert.match(text, new RegExp(`RECOVERY: ${target.deployment} recovered`));
    assert.equal(world.made('rolloutRestart', byIncident(id)).length, 1);
    const events = world.made('listRecentEvents', (i) => i.namespace === 'shop');
    assert.ok(events.every((call) => call.input.limit === 20));
    assert.ok(mitigated.timeline.some((e) => e.kind === 'diagnostic' && /Pods of/.test(e.message)));
    assert.ok(mitigated.timeline.some((e) => e.kind === 'diagnostic' && /Last 20 events/.test(e.message)));
    assert.ok(mitigated.timeline.filter((e) => /^Health (before|after)/.test(e.message)).length === 2);
    // The service's p99 and error rate (Prometheus), and what the crashed container said before it died.
    assert.match(text, new RegExp(`Metrics of ${target.deployment}: p99 0.05 s, error rate 0/s`));
    assert.match(text, /Previous logs of checkout-\w+-7d9f-abcde\/app:\npanic: out of memory/);
    const logs = world.made('readPodLogs', (i) => String(i.pod).startsWith(target.deployment));
    assert.deepEqual(
      logs.map((call) => [call.input.previous, call.input.tailLines]),
      [[true, 50]],
    );

    await handle.signal(resolveSignal, { actor: BOB, note: 'checkout is serving again' });
    const record = await handle.result();
    assert.equal(record.status, 'resolved');
    assert.match(record.outcome ?? '', /^Resolved by bob \(runbook: RECOVERY: checkout-\w+ recovered\)$/);
    assert.ok(record.closedAt && record.resolvedAt && record.mitigatedAt);
    assert.deepEqual(record.mitigations, []);
    assert.equal(world.mutations(`${id}:restore`).length, 0, 'a restart is not a setting to restore');
    assert.ok(!record.gates.some((g) => g.name === 'restore'));
    const described = await handle.describe();
    assert.deepEqual(described.typedSearchAttributes.get(statusKey), 'resolved');
    assert.ok(record.slack, 'the card was published and its ref kept');
  });

  test('unhealthy after the restart: ESCALATION and a page, then waits for humans', async () => {
    const sick = new FakeWorld({ health: [false] });
    const sickWorker = await runTestWorker({ activities: sick.activities(), taskQueue: uniqueTaskQueue('p0-sick') });
    try {
      const handle = await startIncident(bed.client, sickWorker.taskQueue, { runbook: 'p0-response', params: HEALTH });
      const record = await waitForRecord(
        handle,
        (r) => r.escalationTier === 1 && r.currentStep === 'waiting for resolution',
      );
      assert.match(timelineText(record), /ESCALATION: automatic recovery failed/);
      assert.equal(record.status, 'open');
      assert.equal(record.failure?.type, 'UNHEALTHY_AFTER_REMEDIATION');
      await waitForRecord(handle, () => sick.made('postEscalation').length === 1);
      assert.deepEqual(sick.made('postEscalation')[0]!.input.mentions, ['U0ONCALL']);
      await handle.signal(resolveSignal, { actor: BOB });
      assert.equal((await handle.result()).status, 'resolved');
    } finally {
      await sickWorker.stop();
    }
  });

  test('restart gate rejected: no restart, the runbook ends cancelled', async () => {
    const policy = fastPolicy({ p0RestartWithoutApproval: false, gateDeadlineMs: 60_000, gateEscalateAfterMs: 60_000 });
    const handle = await startIncident(bed.client, bed.taskQueue, { runbook: 'p0-response', policy });
    const pending = await waitForRecord(handle, gatePending('restart'));
    const gate = await handle.executeUpdate(decideUpdate, {
      args: [{ gate: 'restart', decision: 'reject', actor: BOB }],
    });
    assert.equal(gate.status, 'rejected');
    const record = await handle.result();
    assert.equal(record.status, 'cancelled');
    assert.equal(record.outcome, 'Automatic recovery not approved');
    assert.equal(record.failure?.type, 'APPROVAL_REJECTED');
    assert.equal(world.made('rolloutRestart', byIncident(pending.id)).length, 0);
  });

  test('restart gate timed out: the incident stays open and escalating, the gate still decidable', async () => {
    const policy = fastPolicy({ p0RestartWithoutApproval: false, repageIntervalMs: 1_500 });
    const handle = await startIncident(bed.client, bed.taskQueue, { runbook: 'p0-response', policy, severity: 'P0' });
    // Past the deadline: the gate is overdue, not closed; the incident re-pages up the tiers.
    const overdue = await waitForRecord(handle, (r) => r.escalationTier >= 3, 60_000);
    const gate = overdue.gates.find((g) => g.name === 'restart');
    assert.equal(gate?.status, 'pending');
    assert.equal(gate?.overdue, true);
    assert.equal(overdue.status, 'open');
    assert.equal(overdue.closedAt, undefined);
    assert.equal(world.made('rolloutRestart', byIncident(overdue.id)).length, 0);
    assert.ok(world.made('triggerPage', byIncident(overdue.id)).length >= 1, 'PagerDuty paged');
    assert.ok(overdue.timeline.some((e) => e.kind === 'escalation' && /gate restart was not decided/.test(e.message)));

    const decided = await handle.executeUpdate(decideUpdate, {
      args: [{ gate: 'restart', decision: 'approve', actor: BOB }],
    });
    assert.equal(decided.status, 'approved');
    await waitForRecord(handle, (r) => r.status === 'mitigated');
    assert.equal(world.made('rolloutRestart', byIncident(overdue.id)).length, 1);
    assert.equal(world.made('resolvePage', byIncident(overdue.id)).length, 0, 'the page stays open until close');
    await handle.signal(resolveSignal, { actor: BOB });
    const record = await handle.result();
    assert.equal(record.status, 'resolved');
    assert.equal(world.made('resolvePage', byIncident(record.id)).length, 1, 'the page resolved at close');
  });

  test('an unauthorized approver is refused by the validator and leaves nothing in history', async () => {
    const policy = fastPolicy({ p0RestartWithoutApproval: false, gateDeadlineMs: 60_000, gateEscalateAfterMs: 60_000 });
    const handle = await startIncident(bed.client, bed.taskQueue, { runbook: 'p0-response', policy });
    await waitForRecord(handle, gatePending('restart'));
    await assert.rejects(
      handle.executeUpdate(decideUpdate, { args: [{ decision: 'approve', actor: MALLORY }] }),
      refusedWith('UNAUTHORIZED'),
    );
    await assert.rejects(
      handle.executeUpdate(decideUpdate, { args: [{ gate: 'no-such-gate', decision: 'approve', actor: BOB }] }),
      refusedWith('UNKNOWN_GATE'),
    );
    assert.deepEqual(
      (await eventTypes(handle)).filter((type) => type.includes('UPDATE')),
      [],
      'refused updates are never written to history',
    );
    const record = await waitForRecord(handle, gatePending('restart'));
    assert.equal(world.made('rolloutRestart', byIncident(record.id)).length, 0);
    await handle.terminate('test done');
  });

  test('a double click is one decision', async () => {
    const policy = fastPolicy({ p0RestartWithoutApproval: false, gateDeadlineMs: 60_000, gateEscalateAfterMs: 60_000 });
    const handle = await startIncident(bed.client, bed.taskQueue, { runbook: 'p0-response', policy });
    await waitForRecord(handle, gatePending('restart'));
    const first = await approveTwiceAtOnce(handle, 'slack-action-restart-1');
    assert.equal(first.status, 'approved');
    await assert.rejects(
      handle.executeUpdate(decideUpdate, { args: [{ gate: 'restart', decision: 'approve', actor: BOB }] }),
      refusedWith('GATE_CLOSED'),
    );
    const record = await waitForRecord(handle, (r) => r.status === 'mitigated');
    assert.equal(record.timeline.filter((e) => e.kind === 'decision').length, 1);
    assert.equal(
      (await eventTypes(handle)).filter((t) => t === 'EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED').length,
      1,
    );
    assert.equal(world.made('rolloutRestart', byIncident(record.id)).length, 1);
    await handle.signal(resolveSignal, { actor: BOB });
    await handle.result();
  });

  test('escalation climbs the tiers until acknowledged; acknowledgement stops it', async () => {
    const policy = fastPolicy({
      ackDeadlineMs: { P0: 1_000, P1: 1_000, P2: 1_000, P3: 1_000 },
      repageIntervalMs: 1_000,
    });
    const handle = await startIncident(bed.client, bed.taskQueue, { runbook: 'p0-response', policy });
    const paged = await waitForRecord(handle, (r) => r.escalationTier >= 2);
    await waitForRecord(handle, () => world.made('triggerPage', byIncident(paged.id)).length === 1);
    await waitForRecord(handle, () => world.made('postEscalation', byIncident(paged.id)).length === 1);

    const acked = await handle.executeUpdate(acknowledgeUpdate, { args: [{ actor: BOB, note: 'on it' }] });
    assert.equal(acked.acknowledgedBy?.id, BOB.id);
    const tierAtAck = acked.escalationTier;
    await waitForRecord(handle, () => world.made('acknowledgePage', byIncident(paged.id)).length === 1);
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const later = await waitForRecord(handle, () => true);
    assert.equal(later.escalationTier, tierAtAck, 'no page after the acknowledgement');

    await handle.signal(resolveSignal, { actor: BOB });
    const record = await handle.result();
    assert.equal(world.made('resolvePage', byIncident(record.id)).length, 1);
  });

  test('acknowledged in time: nobody is paged', async () => {
    const policy = fastPolicy({ ackDeadlineMs: { P0: 3_000, P1: 3_000, P2: 3_000, P3: 3_000 } });
    const handle = await startIncident(bed.client, bed.taskQueue, { runbook: 'p0-response', policy });
    const record = await handle.executeUpdate(acknowledgeUpdate, { args: [{ actor: BOB }] });
    assert.ok(record.acknowledgedAt);
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    const later = await waitForRecord(handle, () => true);
    assert.equal(later.escalationTier, 0);
    assert.equal(world.made('postEscalation', byIncident(record.id)).length, 0);
    assert.equal(world.made('triggerPage', byIncident(record.id)).length, 0);
    await handle.signal(resolveSignal, { actor: ALICE });
    await handle.result();
  });
});

test('p0-response: a worker stopped mid-runbook is replaced and every remediation runs exactly once', async () => {
  const shared = new FakeWorld({ hold: new Set(['waitForRollout']) });
  const { handle, second } = await replaceWorkerWhileHeld(shared, 'p0-replace', 'waitForRollout', (taskQueue) =>
    startIncident(bed.client, taskQueue, { runbook: 'p0-response', params: HEALTH }),
  );
  try {
    const record = await waitForRecord(handle, (r) => r.status === 'mitigated', 60_000);
    assert.equal(shared.made('rolloutRestart').length, 1);
    assert.equal(shared.made('waitForRollout').length, 1, 'the interrupted attempt never completed');
    assert.equal(shared.mutations().length, 1);
    await handle.signal(resolveSignal, { actor: BOB });
    assert.equal((await handle.result()).status, 'resolved');
    assert.equal(record.runbook, 'p0-response');
  } finally {
    await second.stop();
  }
});

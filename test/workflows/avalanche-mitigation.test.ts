/**
 * RB3 on the real dev server with typed fake activities: the four emergency steps on every
 * affected deployment, the mitigation ledger and its restoration — exactly once, surviving a
 * worker replacement and a cancellation.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Context } from '@temporalio/activity';
import { defaultPayloadConverter } from '@temporalio/common';
import type { Target } from '../../common/types';
import { decideUpdate, resolveSignal } from '../../domain/messages';
import { runTestWorker, uniqueTaskQueue } from '../bed/worker';
import { FakeWorld } from './fakes';
import { replaceWorkerWhileHeld, workerOnFakeWorld } from './file-worker';
import {
  BOB,
  acknowledgeBeforeDeadline,
  approveTwiceAtOnce,
  assertOutsiderApprovalRefused,
  cancellationHandled,
  eventTypes,
  fastPolicy,
  gatePending,
  history,
  resolveAndRestore,
  startIncident,
  timelineText,
  uniqueTarget,
  waitForRecord,
} from './harness';

const world = new FakeWorld();
const bed = workerOnFakeWorld(world, 'avalanche');
const slowRestore = fastPolicy({ restoreAfterMs: 60_000 });

const services = (): Target[] => [uniqueTarget('frontend'), uniqueTarget('cart'), uniqueTarget('checkout')];

/** Per deployment: sampler env, restart, scale, circuit-breaker env. */
const MUTATIONS_PER_SERVICE = 4;
/** Per deployment: sampler env, replicas, circuit-breaker env (a restart is not a setting). */
const MITIGATIONS_PER_SERVICE = 3;

function assertRestored(fakes: FakeWorld, targets: Target[]): void {
  for (const target of targets) {
    const deployment = fakes.deployment(target.namespace, target.deployment);
    assert.equal(deployment.env.app!.OTEL_TRACES_SAMPLER_ARG, '0.1');
    assert.equal(deployment.env.app!.ENABLE_CIRCUIT_BREAKER, undefined);
    assert.equal(deployment.replicas, 3);
  }
}

describe('avalanche-mitigation', { concurrency: true }, () => {
  test('happy path: every service mitigated, hints posted, restored exactly once after approval', async () => {
    const targets = services();
    const handle = await startIncident(bed.client, bed.taskQueue, {
      runbook: 'avalanche-mitigation',
      targets,
      params: { replicas: '12' },
      policy: slowRestore,
    });
    const mitigated = await waitForRecord(handle, (r) => r.status === 'mitigated');
    const id = mitigated.id;
    assert.equal(world.mutations(id).length, targets.length * MUTATIONS_PER_SERVICE);
    assert.equal(mitigated.mitigations.length, targets.length * MITIGATIONS_PER_SERVICE);
    for (const target of targets) {
      const deployment = world.deployment(target.namespace, target.deployment);
      assert.equal(deployment.env.app!.OTEL_TRACES_SAMPLER_ARG, '0.001');
      assert.equal(deployment.env.app!.ENABLE_CIRCUIT_BREAKER, 'true');
      assert.equal(deployment.replicas, 12);
      assert.equal(deployment.restarts, 1);
    }
    const sampler = mitigated.mitigations.find((m) =>
      m.key.endsWith(`${targets[0]!.deployment}/env/app/OTEL_TRACES_SAMPLER_ARG`),
    );
    assert.deepEqual(sampler?.change, {
      kind: 'env',
      container: 'app',
      name: 'OTEL_TRACES_SAMPLER_ARG',
      previous: '0.1',
      applied: '0.001',
    });
    assert.match(timelineText(mitigated), /Root cause: .* degraded first/);
    const hints = world.made('findAvalancheRootCauseHints', (i) =>
      (i.services as string[]).includes(targets[0]!.deployment),
    );
    assert.deepEqual(
      hints[0]!.input.services,
      targets.map((t) => t.deployment),
    );

    await handle.signal(resolveSignal, { actor: BOB });
    const restoring = await waitForRecord(handle, gatePending('restore'));
    assert.equal(restoring.status, 'resolved');
    await handle.executeUpdate(decideUpdate, { args: [{ gate: 'restore', decision: 'approve', actor: BOB }] });
    const record = await handle.result();
    assert.equal(world.mutations(`${id}:restore`).length, targets.length * MITIGATIONS_PER_SERVICE);
    assert.ok(record.mitigations.every((m) => m.restoredAt && !m.restoreNote));
    assertRestored(world, targets);
    assert.equal(world.mutations(id).length, targets.length * MUTATIONS_PER_SERVICE, 'no remediation repeated');
  });

  test('no decision on the restore gate: restored automatically after the configured time', async () => {
    const targets = [uniqueTarget('search')];
    const handle = await startIncident(bed.client, bed.taskQueue, { runbook: 'avalanche-mitigation', targets });
    const { id } = await waitForRecord(handle, (r) => r.status === 'mitigated');
    await handle.signal(resolveSignal, { actor: BOB });
    const record = await handle.result();
    const gate = record.gates.find((g) => g.name === 'restore')!;
    assert.equal(gate.status, 'timed_out');
    assert.equal(gate.decidedBy, undefined);
    assert.match(timelineText(record), /No decision: restoring mitigations as configured/);
    assert.equal(world.mutations(`${id}:restore`).length, MITIGATIONS_PER_SERVICE);
    assertRestored(world, targets);
  });

  test('restore rejected: the mitigations stay in place', async () => {
    const targets = [uniqueTarget('ads')];
    const handle = await startIncident(bed.client, bed.taskQueue, {
      runbook: 'avalanche-mitigation',
      targets,
      policy: slowRestore,
    });
    const { id } = await waitForRecord(handle, (r) => r.status === 'mitigated');
    await handle.signal(resolveSignal, { actor: BOB });
    await waitForRecord(handle, gatePending('restore'));
    await handle.executeUpdate(decideUpdate, {
      args: [{ decision: 'reject', actor: BOB, comment: 'keep the breaker' }],
    });
    const record = await handle.result();
    assert.equal(record.status, 'resolved');
    assert.equal(world.mutations(`${id}:restore`).length, 0);
    assert.ok(record.mitigations.every((m) => !m.restoredAt));
    assert.equal(
      world.deployment(targets[0]!.namespace, targets[0]!.deployment).env.app!.ENABLE_CIRCUIT_BREAKER,
      'true',
    );
  });

  test('a value changed by someone since the mitigation is left alone and noted', async () => {
    const target = uniqueTarget('reviews');
    const handle = await startIncident(bed.client, bed.taskQueue, {
      runbook: 'avalanche-mitigation',
      targets: [target],
      policy: slowRestore,
    });
    const { id } = await waitForRecord(handle, (r) => r.status === 'mitigated');
    world.deployment(target.namespace, target.deployment).replicas = 30;
    await resolveAndRestore(handle);
    const record = await handle.result();
    const replicas = record.mitigations.find((m) => m.change.kind === 'replicas')!;
    assert.match(replicas.restoreNote ?? '', /left as 30/);
    assert.equal(world.deployment(target.namespace, target.deployment).replicas, 30);
    assert.equal(world.mutations(`${id}:restore`).length, MITIGATIONS_PER_SERVICE - 1);
  });

  test('live values are read with readDeploymentSettings under QUICK, never a dry-run patch (patched paths)', async () => {
    const target = uniqueTarget('ratings');
    const handle = await startIncident(bed.client, bed.taskQueue, {
      runbook: 'avalanche-mitigation',
      targets: [target],
      policy: slowRestore,
    });
    await waitForRecord(handle, (r) => r.status === 'mitigated');
    await resolveAndRestore(handle);
    const record = await handle.result();
    assert.ok(record.mitigations.every((m) => m.restoredAt && !m.restoreNote));

    const ofTarget = world.calls.filter((call) => call.input.deployment === target.deployment);
    assert.deepEqual(
      ofTarget.filter((call) => call.input.dryRun === true),
      [],
    );
    // One read before scaling out, one before restoring each setting.
    const reads = ofTarget.filter((call) => call.name === 'readDeploymentSettings');
    assert.equal(reads.length, 1 + MITIGATIONS_PER_SERVICE);
    assert.deepEqual(reads.map((read) => read.input.container).sort(), ['app', 'app', undefined, undefined]);

    const events = await history(handle);
    // Patch markers as Temporal's core writes them: marker `core_patch`, details `patch-data` = { id, deprecated }.
    const patches = events.flatMap((event) => {
      const marker = event.markerRecordedEventAttributes;
      const data = marker?.markerName === 'core_patch' ? marker.details?.['patch-data']?.payloads?.[0] : undefined;
      const id = data ? defaultPayloadConverter.fromPayload<{ id: string }>(data).id : undefined;
      // Taken only when the restore gate is decided before the courier posts its request: a race here.
      return id && id !== 'approval-request-always-posted' ? [id] : [];
    });
    assert.deepEqual(patches, [
      'first-action-first',
      'deployment-hold',
      'runbook-reads-settings',
      'avalanche-verification-window',
      'restore-reads-settings',
    ]);
    const scheduledReads = events.flatMap((event) => {
      const attrs = event.activityTaskScheduledEventAttributes;
      return attrs?.activityType?.name === 'readDeploymentSettings' ? [attrs] : [];
    });
    assert.equal(scheduledReads.length, reads.length);
    for (const attrs of scheduledReads) {
      assert.equal(Number(attrs.startToCloseTimeout?.seconds), 30, 'QUICK: 30 s start-to-close');
      assert.equal(Number(attrs.heartbeatTimeout?.seconds ?? 0), 0, 'no remediation heartbeat timeout');
      assert.equal(attrs.retryPolicy?.maximumAttempts, 5);
    }
  });

  test('an unauthorized approver is refused and a double click is one decision', async () => {
    const handle = await startIncident(bed.client, bed.taskQueue, {
      runbook: 'avalanche-mitigation',
      targets: [uniqueTarget('auth')],
      policy: slowRestore,
    });
    const { id } = await waitForRecord(handle, (r) => r.status === 'mitigated');
    await handle.signal(resolveSignal, { actor: BOB });
    await waitForRecord(handle, gatePending('restore'));
    await assertOutsiderApprovalRefused(handle);
    await approveTwiceAtOnce(handle, 'restore-click-1');
    await handle.result();
    assert.equal((await eventTypes(handle)).filter((t) => t.endsWith('UPDATE_ACCEPTED')).length, 1);
    assert.equal(world.mutations(`${id}:restore`).length, MITIGATIONS_PER_SERVICE);
  });

  test('acknowledged before the deadline: nobody is paged', async () => {
    const { handle, record } = await acknowledgeBeforeDeadline(bed.client, bed.taskQueue, {
      runbook: 'avalanche-mitigation',
      targets: [uniqueTarget('email')],
    });
    assert.equal(record.escalationTier, 0);
    assert.equal(world.made('postEscalation', (i) => i.incidentId === record.id).length, 0);
    assert.equal(world.made('triggerPage', (i) => i.incidentId === record.id).length, 0);
    await handle.signal(resolveSignal, { actor: BOB });
    await handle.result();
  });
});

test('avalanche-mitigation: a worker stopped mid-runbook is replaced; every change and restore happens exactly once', async () => {
  const shared = new FakeWorld({ hold: new Set(['scaleDeployment']) });
  const targets = services();
  // The worker stops with every service's scale call in flight, so none is lost in transit to it.
  const { handle, second } = await replaceWorkerWhileHeld(
    shared,
    'avalanche-replace',
    'scaleDeployment',
    (taskQueue) =>
      startIncident(bed.client, taskQueue, { runbook: 'avalanche-mitigation', targets, policy: slowRestore }),
    targets.length,
  );
  try {
    const { id } = await waitForRecord(handle, (r) => r.status === 'mitigated', 60_000);
    await resolveAndRestore(handle);
    await handle.result();
    assert.equal(shared.mutations(id).length, targets.length * MUTATIONS_PER_SERVICE);
    assert.equal(shared.made('rolloutRestart').length, targets.length);
    assert.equal(shared.mutations(`${id}:restore`).length, targets.length * MITIGATIONS_PER_SERVICE);
    assertRestored(shared, targets);
  } finally {
    await second.stop();
  }
});

test('avalanche-mitigation: cancelled mid-remediation stops cleanly and still offers restoring what was changed', async () => {
  const fakes = new FakeWorld({ hold: new Set(['readDeploymentSettings']) });
  const taskQueue = uniqueTaskQueue('avalanche-cancel');
  const own = await runTestWorker({ activities: fakes.activities(), taskQueue });
  try {
    const target = uniqueTarget('gateway');
    const handle = await startIncident(bed.client, taskQueue, {
      runbook: 'avalanche-mitigation',
      targets: [target],
      policy: slowRestore,
    });
    await fakes.reached('readDeploymentSettings');
    await handle.cancel();
    // The held call reads the replica count: a read is not waited for once cancelled; the scale-out is never sent.
    await cancellationHandled(handle);
    fakes.release('readDeploymentSettings');
    const pending = await waitForRecord(handle, gatePending('restore'));
    assert.equal(pending.status, 'cancelled');
    assert.equal(pending.mitigations.length, 1, 'only the sampler change was made before the cancellation');
    await handle.executeUpdate(decideUpdate, { args: [{ decision: 'approve', actor: BOB }] });
    const record = await handle.result();
    assert.equal(record.status, 'cancelled');
    assert.equal(record.outcome, 'Cancelled by a human: remediation stopped');
    assert.equal(fakes.mutations(`${record.id}:restore`).length, 1);
    assert.equal(fakes.made('setDeploymentEnv', (i) => 'ENABLE_CIRCUIT_BREAKER' in (i.env as object)).length, 0);
    assert.equal(fakes.made('scaleDeployment').length, 0, 'the scale-out was never sent');
    assert.equal(fakes.deployment(target.namespace, target.deployment).env.app!.OTEL_TRACES_SAMPLER_ARG, '0.1');
  } finally {
    fakes.release('readDeploymentSettings');
    await own.stop();
  }
});

test('avalanche-mitigation: cancelled while a change is in flight: the change still reaches the ledger and is restored', async () => {
  const fakes = new FakeWorld({ hold: new Set(['setDeploymentEnv']) });
  const taskQueue = uniqueTaskQueue('avalanche-cancel-inflight');
  const own = await runTestWorker({ activities: fakes.activities(), taskQueue });
  try {
    const target = uniqueTarget('search');
    const handle = await startIncident(bed.client, taskQueue, {
      runbook: 'avalanche-mitigation',
      targets: [target],
      policy: fastPolicy({ restoreAfterMs: 500 }),
    });
    await fakes.reached('setDeploymentEnv');
    await handle.cancel();
    // The workflow has handled the cancellation before the cluster answers the change.
    await cancellationHandled(handle);
    fakes.release('setDeploymentEnv');
    const record = await handle.result();
    assert.equal(record.status, 'cancelled');
    assert.deepEqual(
      record.mitigations.map((m) => m.key),
      [`${target.namespace}/${target.deployment}/env/app/OTEL_TRACES_SAMPLER_ARG`],
      'the change the cluster applied is in the ledger',
    );
    assert.ok(record.mitigations[0]!.restoredAt, 'and restored');
    assert.equal(fakes.mutations(`${record.id}:restore`).length, 1);
    assert.equal(fakes.deployment(target.namespace, target.deployment).env.app!.OTEL_TRACES_SAMPLER_ARG, '0.1');
    assert.equal(fakes.made('rolloutRestart').length, 0, 'nothing after the cancellation');
  } finally {
    fakes.release('setDeploymentEnv');
    await own.stop();
  }
});

test('avalanche-mitigation: a change whose worker vanished mid-call is retried within seconds, not minutes', async () => {
  const fakes = new FakeWorld();
  const activities = fakes.activities();
  let lost = 0;
  const taskQueue = uniqueTaskQueue('avalanche-lost');
  let forget!: () => void;
  const forgotten = new Promise<void>((resolve) => (forget = resolve));
  // The first change's first attempt behaves like a worker that died mid-call: no answer, no heartbeat.
  const own = await runTestWorker({
    activities: {
      ...activities,
      async setDeploymentEnv(input: Parameters<typeof activities.setDeploymentEnv>[0]) {
        if (lost === 0) {
          lost = Context.current().info.attempt;
          await forgotten;
          throw new Error('lost with its worker');
        }
        return activities.setDeploymentEnv(input);
      },
    },
    taskQueue,
  });
  try {
    const started = Date.now();
    const handle = await startIncident(bed.client, taskQueue, {
      runbook: 'avalanche-mitigation',
      targets: [uniqueTarget('orders')],
      policy: fastPolicy({ restoreAfterMs: 500 }),
    });
    const mitigated = await waitForRecord(handle, (r) => r.status === 'mitigated', 60_000);
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 40_000, `the lost change was retried after ${elapsed} ms`);
    assert.equal(lost, 1);
    assert.equal(fakes.made('setDeploymentEnv', (i) => i.incidentId === mitigated.id).length, 2, 'each change once');
    assert.equal(mitigated.mitigations.length, MITIGATIONS_PER_SERVICE);
    await handle.signal(resolveSignal, { actor: BOB });
    await handle.result();
  } finally {
    forget();
    await own.stop();
  }
});

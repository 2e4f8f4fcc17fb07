/**
 * RB4 on the real dev server with typed fake activities: OOM kills from container statuses and
 * node events, the memory limit raised once (never lowered, never past the cap), the exporter
 * queue, trace export only behind a gate, evidence that warns instead of failing.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { OomKill } from '../../activities/kubernetes';
import { decideUpdate, resolveSignal } from '../../domain/messages';
import { runTestWorker, uniqueTaskQueue } from '../bed/worker';
import { FakeWorld } from './fakes';
import { replaceWorkerWhileHeld, workerOnFakeWorld } from './file-worker';
import {
  BOB,
  acknowledgeBeforeDeadline,
  approveTwiceAtOnce,
  assertOutsiderApprovalRefused,
  byIncident,
  eventTypes,
  fastPolicy,
  gatePending,
  resolveAndRestore,
  sleep,
  startIncident,
  timelineText,
  uniqueTarget,
  waitForRecord,
} from './harness';

const KILLS: OomKill[] = [
  { pod: 'api-7d9f-abcde', container: 'app', at: '2026-01-01T00:01:00Z', exitCode: 137, source: 'containerStatus' },
  { node: 'kwok-node-0', at: '2026-01-01T00:01:00Z', source: 'nodeEvent', message: 'Memory cgroup out of memory' },
];
const GATE = 'disable-trace-export';

const world = new FakeWorld({ oomKills: KILLS });
const bed = workerOnFakeWorld(world, 'oom');
const waitLong = fastPolicy({ gateDeadlineMs: 60_000, gateEscalateAfterMs: 60_000, restoreAfterMs: 60_000 });

const exportDisabled = (fakes: FakeWorld, id: string) =>
  fakes.made('setDeploymentEnv', (i) => i.incidentId === id && 'OTEL_TRACES_EXPORTER' in (i.env as object));

describe('oom-triage', { concurrency: true }, () => {
  test('happy path: kills found, limit raised once, queue shrunk, evidence kept, export off by approval, all restored once', async () => {
    const target = uniqueTarget('api');
    const handle = await startIncident(bed.client, bed.taskQueue, {
      runbook: 'oom-triage',
      targets: [target],
      policy: waitLong,
    });
    const asked = await waitForRecord(handle, gatePending(GATE));
    const id = asked.id;
    const text = timelineText(asked);
    assert.match(text, /2 OOM kill\(s\) found/);
    assert.match(text, /Evidence kept: previous-logs-.*\.log, 2048 bytes, sha256 (ab){32}/);
    assert.match(text, /Evidence kept: heap-profile-.*\.prof, 48213 bytes, sha256 (ab){32}/);
    assert.match(text, /Memory trend: resident memory grows 2.5 MB\/s: a leak/);
    assert.equal(asked.status, 'mitigated');
    const deployment = world.deployment(target.namespace, target.deployment);
    assert.equal(deployment.limits.app!.memory, '2Gi');
    assert.equal(deployment.env.app!.OTEL_BSP_MAX_QUEUE_SIZE, '512');
    assert.equal(world.made('setContainerResources', byIncident(id)).length, 1);
    const profile = world.made('captureHeapProfile', byIncident(id))[0]!;
    assert.equal(profile.input.url, 'http://localhost:6060/debug/pprof/heap');
    assert.equal(
      world.made('execInPod', (i) => String(i.pod).startsWith(target.deployment)).length,
      0,
      'nothing is written in the pod',
    );
    // Evidence before any change: both captures come before the limit is raised.
    const order = world.calls.filter((c) => c.input.incidentId === id).map((c) => c.name);
    assert.ok(order.indexOf('captureHeapProfile') < order.indexOf('setContainerResources'), order.join(' '));
    assert.ok(order.indexOf('capturePreviousLogs') < order.indexOf('setContainerResources'), order.join(' '));
    // The courier posts them in the thread after the card, without holding the runbook up.
    for (let i = 0; i < 100 && world.made('shareEvidence', byIncident(id)).length < 2; i++) await sleep(100);
    const shared = world.made('shareEvidence', byIncident(id));
    assert.deepEqual(
      shared.map((c) => (c.input.artefact as { name: string }).name.split('-')[0]),
      ['previous', 'heap'],
      'each artefact posted to the thread, in capture order',
    );
    assert.equal(exportDisabled(world, id).length, 0, 'never without the gate');

    await handle.executeUpdate(decideUpdate, { args: [{ gate: GATE, decision: 'approve', actor: BOB }] });
    const exporting = await waitForRecord(handle, (r) => r.mitigations.length === 3);
    assert.equal(deployment.env.app!.OTEL_TRACES_EXPORTER, 'none');
    assert.deepEqual(
      exporting.mitigations.map((m) => m.change.kind),
      ['resources', 'env', 'env'],
    );

    await resolveAndRestore(handle);
    const record = await handle.result();
    assert.equal(record.status, 'resolved');
    assert.equal(world.mutations(`${id}:restore`).length, 3);
    assert.equal(deployment.limits.app!.memory, '1Gi');
    assert.equal(deployment.env.app!.OTEL_BSP_MAX_QUEUE_SIZE, undefined);
    assert.equal(deployment.env.app!.OTEL_TRACES_EXPORTER, undefined);
    assert.equal(world.mutations(id).length, 3, 'memory, queue, exporter: each once');
    const ofTarget = world.calls.filter((call) => call.input.deployment === target.deployment);
    assert.deepEqual(
      ofTarget.filter((call) => call.input.dryRun === true),
      [],
      'live values come from readDeploymentSettings, not dry-run patches',
    );
    const reads = ofTarget.filter((call) => call.name === 'readDeploymentSettings');
    assert.deepEqual(
      reads.map((read) => read.input.container),
      ['app', 'app', 'app', 'app'],
      'the limit before raising it, then each of the three settings before restoring it',
    );
  });

  test('double policy, capped: 1Gi ×2 capped at 1536Mi; a limit already above a fixed raise is never lowered', async () => {
    const capped = uniqueTarget('worker');
    const handle = await startIncident(bed.client, bed.taskQueue, {
      runbook: 'oom-triage',
      targets: [capped],
      params: { memoryPolicy: 'double', memoryLimit: '1Gi', memoryCap: '1536Mi', offerDisableTraceExport: 'false' },
    });
    await waitForRecord(handle, (r) => r.status === 'mitigated');
    assert.equal(world.deployment(capped.namespace, capped.deployment).limits.app!.memory, '1536Mi');
    await handle.signal(resolveSignal, { actor: BOB });
    await handle.result();

    const big = uniqueTarget('batch');
    world.deployment(big.namespace, big.deployment).limits.app!.memory = '4Gi';
    const second = await startIncident(bed.client, bed.taskQueue, {
      runbook: 'oom-triage',
      targets: [big],
      params: { offerDisableTraceExport: false },
    });
    const record = await waitForRecord(second, (r) => r.status === 'mitigated');
    assert.match(timelineText(record), /Memory limit not raised: the limit is already 4Gi/);
    assert.equal(world.made('setContainerResources', byIncident(record.id)).length, 0);
    assert.equal(world.deployment(big.namespace, big.deployment).limits.app!.memory, '4Gi');
    await second.signal(resolveSignal, { actor: BOB });
    await second.result();
  });

  test('gate rejected: trace export stays on, the other mitigations stay until resolution', async () => {
    const handle = await startIncident(bed.client, bed.taskQueue, { runbook: 'oom-triage', policy: waitLong });
    const { id } = await waitForRecord(handle, gatePending(GATE));
    await handle.executeUpdate(decideUpdate, { args: [{ decision: 'reject', actor: BOB }] });
    const record = await waitForRecord(handle, (r) =>
      /Trace export left on: the gate was rejected/.test(timelineText(r)),
    );
    assert.equal(record.status, 'mitigated');
    assert.equal(exportDisabled(world, id).length, 0);
    await resolveAndRestore(handle);
    await handle.result();
    assert.equal(world.mutations(`${id}:restore`).length, 2);
  });

  test('gate timed out: escalation paged, never approved, export never disabled', async () => {
    const handle = await startIncident(bed.client, bed.taskQueue, {
      runbook: 'oom-triage',
      policy: fastPolicy({ restoreAfterMs: 60_000 }),
    });
    const record = await waitForRecord(handle, (r) => r.gates.some((g) => g.name === GATE && g.status === 'timed_out'));
    assert.equal(record.escalationTier, 1);
    assert.ok(record.timeline.some((e) => e.kind === 'escalation' && /gate disable-trace-export/.test(e.message)));
    await waitForRecord(handle, () => world.made('postEscalation', byIncident(record.id)).length === 1);
    assert.equal(exportDisabled(world, record.id).length, 0);
    assert.equal(record.gates.find((g) => g.name === GATE)!.decidedBy, undefined);
    await resolveAndRestore(handle);
    assert.equal((await handle.result()).status, 'resolved');
  });

  test('an unauthorized approver is refused; a double click is one decision', async () => {
    const handle = await startIncident(bed.client, bed.taskQueue, { runbook: 'oom-triage', policy: waitLong });
    const { id } = await waitForRecord(handle, gatePending(GATE));
    await assertOutsiderApprovalRefused(handle);
    await approveTwiceAtOnce(handle, 'oom-click');
    await waitForRecord(handle, (r) => r.mitigations.length === 3);
    assert.equal(exportDisabled(world, id).length, 1);
    assert.equal((await eventTypes(handle)).filter((t) => t.endsWith('UPDATE_ACCEPTED')).length, 1);
    await resolveAndRestore(handle);
    await handle.result();
  });

  test('acknowledged before the deadline: nobody is paged', async () => {
    const { handle, record } = await acknowledgeBeforeDeadline(bed.client, bed.taskQueue, {
      runbook: 'oom-triage',
      params: { offerDisableTraceExport: false },
    });
    assert.equal(record.escalationTier, 0);
    assert.equal(world.made('postEscalation', byIncident(record.id)).length, 0);
    assert.equal(world.made('triggerPage', byIncident(record.id)).length, 0);
    await handle.signal(resolveSignal, { actor: BOB });
    await handle.result();
  });
});

test('oom-triage: no running pod, heap profile and Prometheus unavailable are warnings, not failures', async () => {
  const bare = new FakeWorld({ podsRunning: false, prometheus: false });
  const own = await runTestWorker({ activities: bare.activities(), taskQueue: uniqueTaskQueue('oom-bare') });
  try {
    const handle = await startIncident(bed.client, own.taskQueue, {
      runbook: 'oom-triage',
      params: { offerDisableTraceExport: 'no' },
    });
    const record = await waitForRecord(handle, (r) => r.status === 'mitigated');
    const text = timelineText(record);
    assert.match(text, /0 OOM kill\(s\) found/);
    assert.match(text, /Warning: no running pod to take a heap profile from/);
    assert.match(text, /Warning: memory trend failed: PROMETHEUS_URL is not set/);
    assert.equal(record.failure, undefined);
    assert.equal(bare.made('execInPod').length, 0);
    assert.equal(bare.made('captureHeapProfile').length, 0);
    await handle.signal(resolveSignal, { actor: BOB });
    await handle.result();
  } finally {
    await own.stop();
  }
});

test('oom-triage: a worker stopped mid-runbook is replaced; every change happens exactly once', async () => {
  const shared = new FakeWorld({ oomKills: KILLS, hold: new Set(['setDeploymentEnv']) });
  const { handle, second } = await replaceWorkerWhileHeld(shared, 'oom-replace', 'setDeploymentEnv', (taskQueue) =>
    startIncident(bed.client, taskQueue, {
      runbook: 'oom-triage',
      params: { offerDisableTraceExport: false },
      policy: waitLong,
    }),
  );
  try {
    const { id } = await waitForRecord(handle, (r) => r.status === 'mitigated', 60_000);
    await resolveAndRestore(handle);
    await handle.result();
    assert.equal(shared.made('setContainerResources', (i) => i.incidentId === id).length, 1);
    assert.equal(shared.made('setDeploymentEnv', (i) => i.incidentId === id).length, 1);
    // Once by the triage, then polled by the verification window (a read: repeating it is harmless).
    assert.ok(shared.made('findOomKills').length >= 1);
    assert.equal(shared.mutations(`${id}:restore`).length, 2);
  } finally {
    await second.stop();
  }
});

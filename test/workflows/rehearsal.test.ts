/**
 * Rehearsals (`--dry-run`) on the real dev server with typed fake activities: every change the
 * runbook makes goes out as a dry run and becomes a would-be change, the mitigation ledger stays
 * empty (so nothing is restored), escalation names its tiers but pages nobody, no deployment hold
 * is claimed, every timeline entry says REHEARSAL, and the rehearsal closes by itself.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { OomKill } from '../../activities/kubernetes';
import type { IncidentRecord } from '../../common/types';
import { decideUpdate } from '../../domain/messages';
import { CLUSTER_CHANGES } from '../../postmortem/activity-names';
import { FakeWorld } from './fakes';
import { workerOnFakeWorld } from './file-worker';
import { BOB, byIncident, fastPolicy, gatePending, startIncident, uniqueTarget, waitForRecord } from './harness';

const KILLS: OomKill[] = [
  { pod: 'api-7d9f-abcde', container: 'app', at: '2026-01-01T00:01:00Z', exitCode: 137, source: 'containerStatus' },
];
const PAGES = ['triggerPage', 'postEscalation', 'sendPageEmail', 'acknowledgePage', 'resolvePage'] as const;

const world = new FakeWorld({ oomKills: KILLS });
const bed = workerOnFakeWorld(world, 'rehearsal');

/** What every rehearsal must show, whatever the runbook. */
function assertRehearsed(record: IncidentRecord): void {
  const id = record.id;
  const changes = world.calls.filter((call) => CLUSTER_CHANGES.has(call.name) && call.input.incidentId === id);
  assert.ok(changes.length > 0, 'the runbook sent its changes');
  assert.ok(
    changes.every((call) => call.input.dryRun === true),
    `every change is a dry run: ${JSON.stringify(changes)}`,
  );
  assert.deepEqual(world.mutations(id), [], 'nothing changed');
  assert.deepEqual(record.mitigations, [], 'the mitigation ledger stays empty');
  assert.ok(!record.gates.some((gate) => gate.name === 'restore'), 'nothing to restore, no restore gate');
  assert.deepEqual(record.holds ?? [], [], 'no deployment hold claimed');
  for (const name of PAGES) assert.equal(world.made(name, byIncident(id)).length, 0, `no ${name}`);
  const unmarked = record.timeline.filter((entry) => !entry.message.startsWith('REHEARSAL: '));
  assert.deepEqual(unmarked, [], 'every timeline entry says REHEARSAL');
  assert.match(record.title, /^REHEARSAL — /);
  assert.equal(record.status, 'resolved');
  assert.match(record.outcome ?? '', /Rehearsal complete: \d+ would-be change\(s\), nothing changed/);
  // Each change these runbooks send touches one setting: one would-be change per dry run.
  assert.equal((record.rehearsal?.wouldChange.length ?? 0) + (record.rehearsal?.moreChanges ?? 0), changes.length);
}

describe('rehearsal', { concurrency: true }, () => {
  test('avalanche --dry-run --yes: four would-be changes per service, none made, ledger empty', async () => {
    const targets = [uniqueTarget('frontend'), uniqueTarget('cart')];
    const handle = await startIncident(bed.client, bed.taskQueue, {
      runbook: 'avalanche-mitigation',
      targets,
      params: { replicas: 5, samplerRatio: 0.01 },
      rehearsal: { skipGates: true },
    });
    assert.match(handle.workflowId, /^rehearsal:avalanche-mitigation:/);
    const record = await handle.result();
    assertRehearsed(record);
    const would = record.rehearsal!.wouldChange.map((c) => `${c.target.deployment}: ${c.what}`);
    for (const target of targets) {
      const mine = would.filter((line) => line.startsWith(`${target.deployment}: `));
      assert.equal(mine.length, 4, would.join('\n'));
      assert.ok(
        mine.includes(`${target.deployment}: env OTEL_TRACES_SAMPLER_ARG 0.1 → 0.01 (container app)`),
        would.join('\n'),
      );
      assert.ok(mine.includes(`${target.deployment}: replicas 3 → 5`), would.join('\n'));
      assert.ok(mine.includes(`${target.deployment}: env ENABLE_CIRCUIT_BREAKER unset → true (container app)`));
      assert.ok(
        mine.some((line) => /rollout restart: pod template kubectl.kubernetes.io\/restartedAt unset → /.test(line)),
      );
      const deployment = world.deployment(target.namespace, target.deployment);
      assert.equal(deployment.replicas, 3);
      assert.equal(deployment.restarts, 0);
      assert.deepEqual(deployment.env.app, { OTEL_TRACES_SAMPLER_ARG: '0.1' });
    }
    assert.equal(world.made('waitForRollout', (i) => targets.some((t) => t.deployment === i.deployment)).length, 0);
    assert.ok(record.timeline.some((e) => /Skipped the rollout waits and the verification window/.test(e.message)));
    assert.ok(record.timeline.some((e) => /is not held by any incident: a real run would hold it/.test(e.message)));
  });

  test('oom --dry-run: the gate is asked, escalation names the tiers and pages nobody, the approved change is a dry run', async () => {
    const target = uniqueTarget('api');
    const handle = await startIncident(bed.client, bed.taskQueue, {
      runbook: 'oom-triage',
      targets: [target],
      params: { offerDisableTraceExport: true },
      policy: fastPolicy({ gateEscalateAfterMs: 500, gateDeadlineMs: 60_000 }),
      rehearsal: { skipGates: false },
    });
    const asked = await waitForRecord(handle, gatePending('disable-trace-export'));
    assert.match(asked.gates[0]!.prompt, /^REHEARSAL \(nothing will change\): /);
    assert.notEqual(asked.status, 'mitigated', 'a rehearsal claims no recovery');
    const escalated = await waitForRecord(handle, (r) => r.timeline.some((e) => e.kind === 'escalation'));
    assert.ok(
      escalated.timeline.some((e) => /would page on-call \(slack\), but a rehearsal pages nobody/.test(e.message)),
      JSON.stringify(escalated.timeline),
    );
    await handle.executeUpdate(decideUpdate, {
      args: [{ gate: 'disable-trace-export', decision: 'approve', actor: BOB }],
    });
    const record = await handle.result();
    assertRehearsed(record);
    const would = record.rehearsal!.wouldChange.map((c) => c.what);
    assert.deepEqual(would, [
      'limits.memory 1Gi → 2Gi (container app)',
      'env OTEL_BSP_MAX_QUEUE_SIZE unset → 512 (container app)',
      'env OTEL_TRACES_EXPORTER unset → none (container app)',
    ]);
    assert.equal(world.made('execInPod', (i) => String(i.pod).startsWith(target.deployment)).length, 0, 'no exec');
    const deployment = world.deployment(target.namespace, target.deployment);
    assert.deepEqual(deployment.limits.app, { memory: '1Gi' });
    assert.deepEqual(deployment.env.app, { OTEL_TRACES_SAMPLER_ARG: '0.1' });
  });

  test('rollback --dry-run --yes: the confirm gate is skipped with its first choice, the undo is a dry run', async () => {
    const target = uniqueTarget('web');
    const handle = await startIncident(bed.client, bed.taskQueue, {
      runbook: 'emergency-rollback',
      targets: [target],
      rehearsal: { skipGates: true },
    });
    const record = await handle.result();
    assertRehearsed(record);
    const gate = record.gates.find((g) => g.name === 'confirm-rollback');
    assert.equal(gate?.status, 'approved');
    assert.equal(gate?.choice, '2');
    assert.match(gate?.comment ?? '', /not asked: rehearsal with --yes/);
    assert.deepEqual(
      record.rehearsal!.wouldChange.map((c) => c.what),
      ['rollout undo: revision 3 → 2 (pod template of revision 2)'],
    );
    assert.equal(world.deployment(target.namespace, target.deployment).revision, 3);
  });
});

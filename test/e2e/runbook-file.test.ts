/**
 * A runbook file end to end on the real engine and cluster: seed 001's p0-incident-response.sh as
 * runbooks/files/p0-incident-response.yaml, started from Slack by its alias. It waits at its gate;
 * meanwhile the file is edited and the engine restarted (so it loads the edited file): the running
 * incident goes on with the definition it started with. Then the same cluster effect as the
 * built-in P0 runbook (one rollout restart, kubectl shows it) plus a temporary scale-up that the
 * kernel restores; the postmortem names the definition's sha256.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { markerKey } from '../../activities/kubernetes';
import { incidentWorkflowId } from '../../common/ids';
import { ALICE, ROOT, SKIP_WITHOUT_E2E_BED, clusterChanges, eventually, restartedAt, World } from './harness';

const FILE = path.join(ROOT, 'runbooks/files/p0-incident-response.yaml');

describe('a runbook file end to end', { skip: SKIP_WITHOUT_E2E_BED }, () => {
  let world: World;
  let dir: string;
  let original: string;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'firebreak-e2e-runbooks-'));
    original = await readFile(FILE, 'utf8');
    await writeFile(path.join(dir, 'p0-incident-response.yaml'), original);
    // A broken file beside it: reported and skipped, start-up goes on.
    await writeFile(
      path.join(dir, 'broken.yaml'),
      'id: broken\ntitle: Broken\nsteps:\n  - id: a\n    frobnicate: {}\n',
    );
    world = await World.create({ name: 'rbfile', env: { FIREBREAK_RUNBOOKS_DIR: dir } });
  });

  after(async () => {
    await world?.close();
  });

  test('seed 001 as a file: gate, restart, restored scale-up; editing the file changes nothing for it', async () => {
    const ns = world.namespace;
    await world.cluster.deploy(ns, 'web', { replicas: 2 });
    world.service.healthy = false;
    assert.match(
      world.engine.output.join('\n'),
      /Runbook file skipped: .*broken\.yaml:5:\d+: step a: unknown step kind/,
    );

    const answer = await world.slashCommand(`p0-file ${ns}/web healthUrl=${world.service.healthUrl}`, ALICE);
    assert.equal(answer.status, 200, answer.body);
    const workflowId = incidentWorkflowId('p0-incident-response', { namespace: ns, deployment: 'web' });
    const waiting = await world.waitFor(workflowId, 'the restart gate', (r) =>
      r.gates.some((g) => g.name === 'approve-restart' && g.status === 'pending'),
    );
    assert.ok(waiting.timeline.some((e) => e.message.startsWith(`P0 INCIDENT: web is down — incident ${waiting.id}`)));
    assert.equal(restartedAt(await world.cluster.deployment(ns, 'web')), undefined, 'nothing changed before the gate');

    // The file changes while the incident waits, and the engine restarts with the edited file.
    const edited = original.replace('add: 1', 'add: 4').replace('RECOVERY:', 'EDITED RECOVERY:');
    assert.notEqual(edited, original);
    await writeFile(path.join(dir, 'p0-incident-response.yaml'), edited);
    await world.engine.kill('SIGTERM');
    await world.engine.start();

    world.service.healthy = true;
    await world.cliOk(['approve', workflowId, '--gate', 'approve-restart'], 'carol');
    const mitigated = await world.waitFor(workflowId, 'recovered', (r) => r.status === 'mitigated', 120_000);
    assert.ok(mitigated.timeline.some((e) => e.message.startsWith('RECOVERY: web recovered')));
    assert.ok(!mitigated.timeline.some((e) => /EDITED/.test(e.message)), 'the pinned definition, not the edited file');

    // The cluster: one rollout restart (as the built-in P0), and one extra replica for now (not four).
    const during = await world.cluster.deployment(ns, 'web');
    const restart = restartedAt(during);
    assert.ok(restart, 'kubectl shows the restart annotation');
    assert.ok(during.metadata?.annotations?.[markerKey(mitigated.id, 'restart')], 'the restart marker');
    assert.equal(during.spec?.replicas, 3);

    await world.cliOk(['resolve', workflowId, '--note', 'verified by e2e'], 'carol');
    await world.waitFor(workflowId, 'the restore gate', (r) =>
      r.gates.some((g) => g.name === 'restore' && g.status === 'pending'),
    );
    await world.cliOk(['approve', workflowId, '--gate', 'restore'], 'carol');
    const final = await world.result(workflowId);
    assert.equal(final.status, 'resolved');
    assert.ok(final.mitigations.length === 1 && final.mitigations[0]!.restoredAt, 'the scale-up was restored');
    const after = await eventually(
      'the replica count restored',
      async () => {
        const deployment = await world.cluster.deployment(ns, 'web');
        return deployment.spec?.replicas === 2 ? deployment : undefined;
      },
      30_000,
    );
    assert.equal(restartedAt(after), restart, 'restarted exactly once');

    const postmortem = await world.postmortem(workflowId);
    assert.equal(postmortem.summary.runbook, 'p0-incident-response');
    assert.deepEqual(postmortem.summary.runbookFile, {
      file: 'p0-incident-response.yaml',
      sha256: createHash('sha256').update(original).digest('hex'),
    });
    assert.deepEqual(
      clusterChanges(postmortem).map((a) => a.name),
      ['scaleDeployment', 'rolloutRestart', 'scaleDeployment'],
    );
  });
});

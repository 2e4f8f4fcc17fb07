/**
 * A runbook file end to end on the real engine and cluster: seed 001's p0-incident-response.sh as
 * runbooks/files/p0-incident-response.yaml, started from Slack by its alias. It waits at its gate;
 * meanwhile the file is edited and the engine restarted (so it loads the edited file): the running
 * incident goes on with the definition it started with. Then the same cluster effect as the
 * built-in P0 runbook (one rollout restart, kubectl shows it) plus a temporary scale-up that the
 * kernel restores; the postmortem names the definition's sha256. Then a second file, routed to by
 * a config rule naming its alias: an alert starts it, and its quorum gate (2 of on-call) counts
 * people — one approval waits, the same person again (another button click, or the CLI under his
 * other account) does not count, a second person lets it proceed.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { markerKey } from '../../activities/kubernetes';
import { incidentWorkflowId } from '../../common/ids';
import {
  ALICE,
  BOB,
  ROOT,
  SKIP_WITHOUT_E2E_BED,
  clusterChanges,
  eventually,
  restartedAt,
  worldForSuite,
} from './harness';

const FILE = path.join(ROOT, 'runbooks/files/p0-incident-response.yaml');

/** A restart only two on-call engineers together may approve; routed to by a config rule. */
const QUORUM_RUNBOOK = `
id: two-person-restart
title: Restart with two approvals
aliases: [quorum-restart]
defaultSeverity: P1
steps:
  - id: pods
    pods: {}
  - id: approve
    gate:
      prompt: 'Restart \${target.namespace}/\${target.deployment}? Two on-call engineers must agree.'
      quorum: 2
  - id: restart
    restart: {}
  - id: rollout
    waitForRollout: {}
    next:
      - if: steps.rollout.complete
        goto: done
      - goto: stalled
  - id: done
    end: { status: mitigated, message: 'restarted after \${steps.approve.decidedBy} made it two' }
  - id: stalled
    end: { status: failed, message: 'the rollout stalled' }
`;

describe('a runbook file end to end', { skip: SKIP_WITHOUT_E2E_BED }, () => {
  let dir: string;
  let original: string;

  const world = worldForSuite(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'firebreak-e2e-runbooks-'));
    original = await readFile(FILE, 'utf8');
    await writeFile(path.join(dir, 'p0-incident-response.yaml'), original);
    // A broken file beside it: reported and skipped, start-up goes on.
    await writeFile(
      path.join(dir, 'broken.yaml'),
      'id: broken\ntitle: Broken\nsteps:\n  - id: a\n    frobnicate: {}\n',
    );
    await writeFile(path.join(dir, 'two-person-restart.yaml'), QUORUM_RUNBOOK);
    return {
      name: 'rbfile',
      env: { FIREBREAK_RUNBOOKS_DIR: dir },
      // A rule naming the file runbook by its alias: checked once the files have loaded.
      routes: [{ name: 'checkout-quorum', match: { alertname: 'CheckoutNeedsRestart' }, runbook: 'quorum-restart' }],
      // One person, two accounts: bob's Slack approval and his CLI approval are one approver.
      people: { bob: { slack: BOB.id, cli: 'bob' }, alice: { slack: ALICE.id, cli: 'alice' } },
    };
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

  test('an alert routed by a config rule to a file runbook; its quorum gate counts people, not clicks', async () => {
    const ns = world.namespace;
    await world.cluster.deploy(ns, 'checkout', { replicas: 1 });
    const groupKey = `{}/{alertname="CheckoutNeedsRestart"}:{deployment="checkout", namespace="${ns}"}`;
    const accepted = await world.postAlerts(groupKey, [
      { labels: { alertname: 'CheckoutNeedsRestart', namespace: ns, deployment: 'checkout' } },
    ]);
    assert.equal(accepted.outcome, 'accepted', JSON.stringify(accepted));
    assert.equal(accepted.runbook, 'two-person-restart', 'the alias resolved to the file runbook');
    const workflowId = world.alertWorkflowId(groupKey);
    const waiting = await world.waitFor(workflowId, 'the quorum gate', (r) =>
      r.gates.some((g) => g.name === 'approve' && g.status === 'pending'),
    );
    assert.equal(waiting.runbook, 'two-person-restart');
    assert.equal(waiting.gates.find((g) => g.name === 'approve')?.quorum, 2);

    // Bob approves in Slack: one of two, still waiting, nothing restarted.
    const first = await world.gateButton(workflowId, 'approve', 'approve');
    assert.equal((await world.click(first, BOB)).status, 200);
    const one = await world.waitFor(workflowId, "bob's approval counted", (r) =>
      r.gates.some((g) => g.name === 'approve' && (g.approvals?.length ?? 0) === 1),
    );
    assert.equal(one.gates.find((g) => g.name === 'approve')?.status, 'pending');
    assert.equal(restartedAt(await world.cluster.deployment(ns, 'checkout')), undefined, 'one approval is not enough');

    // Bob again: a second click on the same button, then the CLI under his other account.
    assert.equal((await world.click(first, BOB)).status, 200);
    const again = await world.cli(['approve', workflowId, '--gate', 'approve'], 'bob');
    assert.notEqual(again.code, 0, 'the CLI refuses the same person twice');
    assert.match(again.stderr + again.stdout, /already approved gate approve; it needs 2 different people/);
    const still = await world.record(workflowId);
    const gate = still?.gates.find((g) => g.name === 'approve');
    assert.equal(gate?.status, 'pending');
    assert.deepEqual(
      gate?.approvals?.map((a) => a.actor.id),
      [BOB.id],
      'bob counted once',
    );

    // Alice makes two: the runbook proceeds to its restart.
    assert.equal((await world.click(await world.gateButton(workflowId, 'approve', 'approve'), ALICE)).status, 200);
    const done = await world.waitFor(
      workflowId,
      'mitigated after the quorum',
      (r) => r.status === 'mitigated',
      120_000,
    );
    assert.ok(done.timeline.some((e) => /restarted after (alice|U0ALICE0001) made it two/.test(e.message)));
    assert.ok(restartedAt(await world.cluster.deployment(ns, 'checkout')), 'kubectl shows the restart');

    await world.cliOk(['resolve', workflowId, '--note', 'verified by e2e'], 'carol');
    await world.result(workflowId);
    const postmortem = await world.postmortem(workflowId);
    const approvals = postmortem.decisions.filter((d) => d.kind === 'approve' && d.gate === 'approve');
    assert.deepEqual(
      approvals.map((d) => [d.actor?.id, d.outcome, d.gateStatus]),
      [
        [BOB.id, 'completed', 'pending'],
        [ALICE.id, 'completed', 'approved'],
      ],
      'two decisions: the duplicates never reached the history',
    );
    const decided = postmortem.gates.find((g) => g.name === 'approve');
    assert.equal(decided?.status, 'approved');
    assert.equal(decided?.decidedBy?.id, ALICE.id);
    assert.deepEqual(
      clusterChanges(postmortem).map((a) => a.name),
      ['rolloutRestart'],
    );
  });
});

/**
 * RB2 end to end on the real engine: from a signed Slack command (the approver picks the revision
 * with a button, self-approval is refused, the worker is SIGKILLed while the rollback rolls out)
 * and from an Alertmanager alert (approved through the CLI, closed by the alert's resolution).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { incidentWorkflowId } from '../../common/ids';
import { ALICE, BOB, clusterChanges, eventually, SKIP_WITHOUT_E2E_BED, worldForSuite } from './harness';

const REVISION = 'deployment.kubernetes.io/revision';

function image(deployment: { spec?: { template: { spec?: { containers: { image?: string }[] } } } }): string {
  return deployment.spec?.template.spec?.containers[0]?.image ?? '';
}

describe('emergency-rollback end to end', { skip: SKIP_WITHOUT_E2E_BED }, () => {
  const world = worldForSuite({
    name: 'rollback',
    approvers: { users: [ALICE.id, BOB.id, 'cli:carol'] },
    routes: [
      {
        name: 'regression',
        match: { alertname: 'DeploymentRegression' },
        runbook: 'emergency-rollback',
        severity: { label: 'severity', map: { critical: 'P1' } },
      },
    ],
  });

  test('Slack command → revision picked by a second person → undo once across a worker SIGKILL → healthy', async () => {
    const ns = world.namespace;
    await world.cluster.deploy(ns, 'api', { replicas: 2, image: 'registry.example/api:v1', minReadySeconds: 10 });
    await world.cluster.setImage(ns, 'api', 'registry.example/api:v2-broken');
    world.service.healthy = true;

    const answer = await world.slashCommand(`rollback ${ns}/api healthUrl=${world.service.healthUrl}`, ALICE);
    assert.equal(answer.status, 200, answer.body);
    const workflowId = incidentWorkflowId('emergency-rollback', { namespace: ns, deployment: 'api' });

    const gate = await world.waitFor(workflowId, 'the confirm gate', (r) =>
      r.gates.some((g) => g.name === 'confirm-rollback' && g.status === 'pending'),
    );
    assert.deepEqual(gate.gates[0]?.choices, ['1'], 'the earlier revision is offered');
    const approveRevision1 = await world.gateButton(workflowId, 'confirm-rollback', 'approve', { index: 0 });

    // Four-eyes: the person who asked for the rollback cannot confirm it.
    assert.equal((await world.click(approveRevision1, ALICE)).status, 200);
    const refusal = await eventually('Alice is told she cannot approve her own rollback', () =>
      [
        ...world.slack.ephemerals.map((m) => m.text ?? ''),
        ...world.slack.responses.map((r) => JSON.stringify(r.body)),
      ].find((text) => text.includes('four-eyes rule')),
    );
    assert.match(refusal, /needs someone other than the person who triggered the incident/);
    assert.equal((await world.record(workflowId))?.gates[0]?.status, 'pending');

    assert.equal((await world.click(approveRevision1, BOB)).status, 200);
    // A double click is the same update id: still one decision.
    assert.equal((await world.click(approveRevision1, BOB)).status, 200);
    await world.waitFor(workflowId, 'the rollback rolling out', (r) => r.currentStep === 'wait-for-rollout', 60_000);
    assert.equal(image(await world.cluster.deployment(ns, 'api')), 'registry.example/api:v1');
    await world.engine.kill('SIGKILL');
    await world.engine.start();

    const mitigated = await world.waitFor(
      workflowId,
      'rolled back and healthy',
      (r) => r.status === 'mitigated',
      120_000,
    );
    assert.ok(mitigated.timeline.some((e) => e.message === 'Rollback successful and application is healthy'));
    const confirm = mitigated.gates.find((g) => g.name === 'confirm-rollback');
    assert.equal(confirm?.status, 'approved');
    assert.equal(confirm?.decidedBy?.id, BOB.id);
    assert.equal(confirm?.choice, '1');

    const resolve = await world.slashCommand(`resolve ${workflowId}`, BOB);
    assert.equal(resolve.status, 200, resolve.body);
    const final = await world.result(workflowId);
    assert.equal(final.status, 'resolved');

    // The cluster: back on v1, whose ReplicaSet became revision 3 — one undo, not two.
    const deployment = await world.cluster.deployment(ns, 'api');
    assert.equal(image(deployment), 'registry.example/api:v1');
    assert.equal(deployment.metadata?.annotations?.[REVISION], '3');
    const revisions = await world.cluster.revisions(ns, 'api');
    assert.deepEqual(
      revisions.map((r) => [r.revision, r.replicaSet.spec?.template?.spec?.containers[0]?.image]),
      [
        [2, 'registry.example/api:v2-broken'],
        [3, 'registry.example/api:v1'],
      ],
    );
    await world.cluster.rolloutStatus(ns, 'api');

    const postmortem = await world.postmortem(workflowId);
    assert.equal(postmortem.summary.status, 'resolved');
    assert.deepEqual(
      clusterChanges(postmortem).map((a) => [a.name, a.outcome]),
      [['rolloutUndo', 'completed']],
    );
    const approvals = postmortem.decisions.filter((d) => d.kind === 'approve');
    assert.equal(approvals.length, 1, `one decision despite the double click: ${JSON.stringify(postmortem.decisions)}`);
    assert.equal(approvals[0]?.actor?.id, BOB.id);
    assert.equal(approvals[0]?.choice, '1');
    const rollout = postmortem.activities.find((a) => a.name === 'waitForRollout');
    assert.ok(rollout && rollout.attempts >= 2, `the killed rollout wait was retried: ${rollout?.attempts}`);
  });

  test('Alertmanager alert → CLI approves revision 1 → rolled back → resolved alert closes it', async () => {
    const ns = world.namespace;
    await world.cluster.deploy(ns, 'cart', { replicas: 1, image: 'registry.example/cart:v1' });
    await world.cluster.setImage(ns, 'cart', 'registry.example/cart:v2');
    await world.cluster.setImage(ns, 'cart', 'registry.example/cart:v3-broken');
    const groupKey = `{}/{alertname="DeploymentRegression"}:{deployment="cart", namespace="${ns}"}`;
    const alert = {
      labels: { alertname: 'DeploymentRegression', severity: 'critical', namespace: ns, deployment: 'cart' },
    };
    const accepted = await world.postAlerts(groupKey, [alert]);
    assert.equal(accepted.outcome, 'accepted', JSON.stringify(accepted));
    const workflowId = accepted.workflowId;

    const gate = await world.waitFor(workflowId, 'the confirm gate', (r) =>
      r.gates.some((g) => g.name === 'confirm-rollback' && g.status === 'pending'),
    );
    assert.deepEqual(gate.gates[0]?.choices, ['2', '1']);
    assert.equal(gate.severity, 'P1');
    const approved = await world.cliOk(
      ['approve', workflowId, '--choice', '1', '--comment', 'v1 is the last good one'],
      'carol',
    );
    assert.match(approved, /approved/i);

    await world.waitFor(workflowId, 'rolled back', (r) => r.status === 'mitigated', 90_000);
    await world.postAlerts(groupKey, [{ ...alert, status: 'resolved' }]);
    const final = await world.result(workflowId);
    assert.equal(final.status, 'resolved');

    const deployment = await world.cluster.deployment(ns, 'cart');
    assert.equal(image(deployment), 'registry.example/cart:v1');
    assert.equal(deployment.metadata?.annotations?.[REVISION], '4');

    const postmortem = await world.postmortem(workflowId);
    assert.equal(postmortem.summary.trigger?.kind, 'alert');
    assert.deepEqual(
      clusterChanges(postmortem).map((a) => a.name),
      ['rolloutUndo'],
    );
    const approval = postmortem.decisions.find((d) => d.kind === 'approve');
    assert.equal(approval?.actor?.id, 'cli:carol');
    assert.equal(approval?.choice, '1');
    assert.equal(approval?.comment, 'v1 is the last good one');
  });
});

/**
 * RB3 end to end on the real engine: from a signed Slack command on two deployments (the worker
 * SIGKILLed between the mitigations and the restoration, restoration approved with a button) and
 * from an Alertmanager group naming two services (restored by policy once the alerts resolve).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { V1ReplicaSet } from '@kubernetes/client-node';
import { incidentWorkflowId } from '../../common/ids';
import { ALICE, BOB, clusterChanges, containerEnv, restartedAt, SKIP_WITHOUT_E2E_BED, worldForSuite } from './harness';

const MITIGATED_ENV = { OTEL_TRACES_SAMPLER_ARG: '0.001', ENABLE_CIRCUIT_BREAKER: 'true' };

/** Every restartedAt value any ReplicaSet template of the deployment carries: one per restart ever made. */
function restartValues(revisions: { replicaSet: V1ReplicaSet }[]): string[] {
  const values = revisions
    .map((r) => r.replicaSet.spec?.template?.metadata?.annotations?.['kubectl.kubernetes.io/restartedAt'])
    .filter((v): v is string => v !== undefined);
  return [...new Set(values)];
}

describe('avalanche-mitigation end to end', { skip: SKIP_WITHOUT_E2E_BED }, () => {
  const world = worldForSuite({
    name: 'avalanche',
    policy: { restoreAfter: '20s' },
    routes: [
      {
        name: 'avalanche',
        match: { alertname: 'ServiceAvalanche' },
        runbook: 'avalanche-mitigation',
        severity: 'P0',
        params: { replicas: { value: '2' } },
      },
    ],
  });

  test('Slack command on two services → four mitigations each → worker SIGKILL → CLI resolve → restore by button', async () => {
    const ns = world.namespace;
    await Promise.all([
      world.cluster.deploy(ns, 'orders', { replicas: 1 }),
      world.cluster.deploy(ns, 'payments', { replicas: 1, env: [{ name: 'OTEL_TRACES_SAMPLER_ARG', value: '0.5' }] }),
    ]);
    const answer = await world.slashCommand(`avalanche ${ns}/orders,payments replicas=3`, ALICE);
    assert.equal(answer.status, 200, answer.body);
    const workflowId = incidentWorkflowId('avalanche-mitigation', { namespace: ns, deployment: 'orders' });

    const mitigated = await world.waitFor(workflowId, 'mitigations applied', (r) => r.status === 'mitigated', 90_000);
    assert.deepEqual(mitigated.targets.map((t) => t.deployment).sort(), ['orders', 'payments']);
    assert.equal(mitigated.mitigations.length, 6, JSON.stringify(mitigated.mitigations.map((m) => m.key)));

    const firstRestarts: Record<string, string | undefined> = {};
    for (const name of ['orders', 'payments']) {
      const deployment = await world.cluster.deployment(ns, name);
      assert.deepEqual(containerEnv(deployment), MITIGATED_ENV, `${name} carries the emergency settings once`);
      assert.equal(deployment.spec?.replicas, 3);
      firstRestarts[name] = restartedAt(deployment);
      assert.ok(firstRestarts[name], `${name} was restarted`);
    }

    // The worker dies while the incident waits for humans; restoration must still happen, once.
    await world.engine.kill('SIGKILL');
    await world.engine.start();

    await world.cliOk(['resolve', workflowId, '--note', 'dependencies healthy again'], 'carol');
    const restore = await world.gateButton(workflowId, 'restore', 'approve', { timeoutMs: 60_000 });
    assert.equal((await world.click(restore, BOB)).status, 200);
    const final = await world.result(workflowId);
    assert.equal(final.status, 'resolved');
    assert.equal(final.mitigations.filter((m) => m.restoredAt).length, 6);

    for (const name of ['orders', 'payments']) {
      const deployment = await world.cluster.deployment(ns, name);
      assert.deepEqual(
        containerEnv(deployment),
        name === 'payments' ? { OTEL_TRACES_SAMPLER_ARG: '0.5' } : {},
        `${name}: the emergency settings are gone, the earlier value is back`,
      );
      assert.equal(deployment.spec?.replicas, 1);
      const revisions = await world.cluster.revisions(ns, name);
      assert.deepEqual(restartValues(revisions), [firstRestarts[name]], `${name} was restarted exactly once`);
    }

    const postmortem = await world.postmortem(workflowId);
    assert.equal(postmortem.summary.status, 'resolved');
    const changes = clusterChanges(postmortem);
    assert.equal(changes.filter((a) => a.name === 'rolloutRestart').length, 2, 'one restart per service');
    assert.ok(changes.every((a) => a.outcome === 'completed'));
    assert.equal(postmortem.mitigations.length, 6);
    assert.ok(postmortem.mitigations.every((m) => m.restored));
    const restoreDecision = postmortem.decisions.find((d) => d.gate === 'restore');
    assert.equal(restoreDecision?.actor?.id, BOB.id);
  });

  test('Alertmanager group of two services → mitigated → alerts resolve → restored by policy', async () => {
    const ns = world.namespace;
    await Promise.all([
      world.cluster.deploy(ns, 'search', { replicas: 1 }),
      world.cluster.deploy(ns, 'ads', { replicas: 1 }),
    ]);
    const groupKey = `{}/{alertname="ServiceAvalanche"}:{namespace="${ns}"}`;
    const alerts = ['search', 'ads'].map((deployment) => ({
      labels: { alertname: 'ServiceAvalanche', namespace: ns, deployment },
    }));
    const accepted = await world.postAlerts(groupKey, alerts);
    assert.equal(accepted.outcome, 'accepted', JSON.stringify(accepted));
    const workflowId = accepted.workflowId;

    const mitigated = await world.waitFor(workflowId, 'mitigations applied', (r) => r.status === 'mitigated', 90_000);
    assert.deepEqual(mitigated.targets.map((t) => t.deployment).sort(), ['ads', 'search']);
    assert.deepEqual(mitigated.alerts.map((a) => [a.labels.deployment, a.status]).sort(), [
      ['ads', 'firing'],
      ['search', 'firing'],
    ]);
    for (const name of ['search', 'ads']) {
      const deployment = await world.cluster.deployment(ns, name);
      assert.deepEqual(containerEnv(deployment), MITIGATED_ENV);
      assert.equal(deployment.spec?.replicas, 2);
    }

    await world.postAlerts(
      groupKey,
      alerts.map((a) => ({ ...a, status: 'resolved' as const })),
    );
    const final = await world.result(workflowId, 120_000);
    assert.equal(final.status, 'resolved');
    assert.ok(final.timeline.some((e) => e.message === 'No decision: restoring mitigations as configured'));
    assert.ok(final.alerts.length === 2 && final.alerts.every((a) => a.status === 'resolved'));
    for (const name of ['search', 'ads']) {
      const deployment = await world.cluster.deployment(ns, name);
      assert.deepEqual(containerEnv(deployment), {});
      assert.equal(deployment.spec?.replicas, 1);
    }
    const postmortem = await world.postmortem(workflowId);
    assert.equal(postmortem.summary.trigger?.kind, 'alert');
    assert.ok(postmortem.mitigations.length === 6 && postmortem.mitigations.every((m) => m.restored));
  });
});

/**
 * A required gate that times out on the real engine: the incident stays open and escalates up the
 * tiers, the gate stays decidable, the PagerDuty page stays open until the incident closes.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { incidentWorkflowId } from '../../common/ids';
import { eventually, restartedAt, SKIP_WITHOUT_E2E_BED, worldForSuite } from './harness';

describe('gate timeout end to end', { skip: SKIP_WITHOUT_E2E_BED }, () => {
  const world = worldForSuite({
    name: 'gate',
    policy: { gateEscalateAfter: '2s', gateDeadline: '4s', repageInterval: '5s' },
  });

  test('P1 restart gate overdue → open, paged, re-paged; approved late → restart; page resolved only at close', async () => {
    const ns = world.namespace;
    await world.cluster.deploy(ns, 'web', { replicas: 1 });
    await world.cliOk(['run', 'p0', '--target', `${ns}/web`, '--severity', 'P1', '--no-wait'], 'carol');
    const workflowId = incidentWorkflowId('p0-response', { namespace: ns, deployment: 'web' });

    const overdue = await world.waitFor(
      workflowId,
      'the restart gate overdue and the incident escalated twice',
      (r) => r.gates.some((g) => g.name === 'restart' && g.overdue === true) && r.escalationTier >= 2,
      60_000,
    );
    assert.equal(overdue.status, 'open');
    assert.equal(overdue.closedAt, undefined);
    assert.equal(overdue.gates.find((g) => g.name === 'restart')?.status, 'pending');
    assert.equal(restartedAt(await world.cluster.deployment(ns, 'web')), undefined, 'nothing restarted unapproved');
    const page = await eventually('a PagerDuty alert for the overdue gate', () =>
      [...world.pagerduty.alerts.values()].find((a) => a.status === 'triggered'),
    );
    assert.match(world.slackText(), /Overdue since/);

    await world.cliOk(['approve', workflowId, '--gate', 'restart'], 'dave');
    const mitigated = await world.waitFor(
      workflowId,
      'restarted after the late approval',
      (r) => r.status === 'mitigated',
    );
    assert.ok(restartedAt(await world.cluster.deployment(ns, 'web')), 'the restart was applied');
    assert.equal(mitigated.gates.find((g) => g.name === 'restart')?.decidedBy?.id, 'cli:dave');
    assert.equal(world.pagerduty.alerts.get(page.dedupKey)?.status, 'triggered', 'the page stays open until close');

    await world.cliOk(['resolve', workflowId], 'carol');
    const final = await world.result(workflowId);
    assert.equal(final.status, 'resolved');
    await eventually(
      'the page resolved at close',
      () => world.pagerduty.alerts.get(page.dedupKey)?.status === 'resolved',
    );
  });
});

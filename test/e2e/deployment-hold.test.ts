/**
 * One remediation per deployment on the real engine: a Slack P0 and an Alertmanager group for the
 * same deployment give one set of changes at a time; the second incident names the first (card,
 * thread, status, postmortem) and waits across a worker SIGKILL; a terminated holder does not block.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { incidentWorkflowId } from '../../common/ids';
import { holdWorkflowId } from '../../domain/hold';
import { eventually, restartedAt, SKIP_WITHOUT_E2E_BED, SLACK_CHANNEL, worldForSuite } from './harness';

describe('deployment hold end to end', { skip: SKIP_WITHOUT_E2E_BED }, () => {
  const world = worldForSuite({
    name: 'hold',
    routes: [{ name: 'service-down', match: { alertname: 'ServiceDown' }, runbook: 'p0-response', severity: 'P0' }],
  });

  const alertFor = (ns: string, deployment: string) => ({
    labels: { alertname: 'ServiceDown', severity: 'critical', namespace: ns, deployment },
    annotations: { summary: `${deployment} is not answering` },
  });

  test('Slack P0 holds web; an alert on web waits (named, across a worker SIGKILL) and acts only after it closes', async () => {
    const ns = world.namespace;
    await world.cluster.deploy(ns, 'web', { replicas: 1 });
    assert.equal((await world.slashCommand(`p0 ${ns}/web`)).status, 200);
    const firstId = incidentWorkflowId('p0-response', { namespace: ns, deployment: 'web' });
    const first = await world.waitFor(firstId, 'the first incident mitigated', (r) => r.status === 'mitigated', 90_000);
    assert.equal(first.holds?.[0]?.state, 'held');
    const firstRestart = restartedAt(await world.cluster.deployment(ns, 'web'));
    assert.ok(firstRestart);

    const groupKey = `{}/{alertname="ServiceDown"}:{deployment="web", namespace="${ns}"}`;
    const accepted = await world.postAlerts(groupKey, [alertFor(ns, 'web')]);
    assert.equal(accepted.outcome, 'accepted', JSON.stringify(accepted));
    const secondId = world.alertWorkflowId(groupKey);
    const waiting = await world.waitFor(
      secondId,
      'the second incident waiting on the first',
      (r) => r.holds?.some((h) => h.state === 'waiting' && h.holder?.incidentId === first.id) === true,
    );
    await world.waitFor(
      firstId,
      'the first incident told who waits',
      (r) => r.holds?.some((h) => h.waiters?.some((w) => w.incidentId === waiting.id)) === true,
    );
    await eventually('both threads name the other incident', () => {
      const text = world.slackText();
      return (
        text.includes(`held by incident ${first.id}`) && text.includes(`Incident ${waiting.id} waits for this incident`)
      );
    });
    const status = await world.cliOk(['status', secondId], 'carol');
    assert.match(status, new RegExp(`waiting since .* \\(held by incident ${first.id}`));

    // Durable: the worker dies while one incident holds web and the other waits; neither is lost.
    await world.engine.kill('SIGKILL');
    await world.engine.start();
    await world.waitFor(secondId, 'still waiting after the restart', (r) => r.holds?.[0]?.state === 'waiting');
    assert.equal(restartedAt(await world.cluster.deployment(ns, 'web')), firstRestart, 'the waiter changed nothing');
    assert.deepEqual(
      (await world.cluster.revisions(ns, 'web')).map((r) => r.revision),
      [1, 2],
    );
    const hold = await world.client.workflow.getHandle(holdWorkflowId({ namespace: ns, deployment: 'web' })).describe();
    assert.equal(hold.status.name, 'RUNNING');

    // restartedAt has whole-second precision, so the moment of resolving is compared at that precision.
    const resolvingAt = Math.floor(Date.now() / 1000) * 1000;
    await world.cliOk(['resolve', firstId], 'carol');
    const firstFinal = await world.result(firstId);
    assert.equal(firstFinal.status, 'resolved');
    const second = await world.waitFor(secondId, 'the second incident acted after the first closed', (r) =>
      ['mitigated', 'resolved'].includes(r.status),
    );
    assert.ok(second.timeline.some((e) => new RegExp(`incident ${first.id} released it`).test(e.message)));
    const secondRestart = restartedAt(await world.cluster.deployment(ns, 'web'));
    assert.ok(secondRestart && secondRestart !== firstRestart);
    // The first incident releases web before its closedAt is stamped, so the second may act before that.
    assert.ok(Date.parse(secondRestart) >= resolvingAt, 'changes never overlapped');
    assert.equal(world.slack.channelMessages(SLACK_CHANNEL).length, 2, 'one card per incident');

    await world.postAlerts(groupKey, [{ ...alertFor(ns, 'web'), status: 'resolved' }]);
    assert.equal((await world.result(secondId)).status, 'resolved');
    const postmortem = await world.postmortem(secondId);
    assert.ok(
      postmortem.narrative.some((e) => e.message.includes(`held by incident ${first.id}`)),
      'the postmortem names the holder',
    );
    await eventually('the hold ends once nobody holds or waits', async () => {
      const described = await world.client.workflow
        .getHandle(holdWorkflowId({ namespace: ns, deployment: 'web' }))
        .describe();
      return described.status.name === 'COMPLETED';
    });
  });

  test('a terminated holder does not block: the waiter is granted the deployment', async () => {
    const ns = world.namespace;
    await world.cluster.deploy(ns, 'api', { replicas: 1 });
    await world.cliOk(['run', 'p0', '--target', `${ns}/api`, '--severity', 'P1', '--no-wait'], 'carol');
    const holderId = incidentWorkflowId('p0-response', { namespace: ns, deployment: 'api' });
    const holder = await world.waitFor(holderId, 'the holder at its restart gate', (r) =>
      r.gates.some((g) => g.name === 'restart' && g.status === 'pending'),
    );
    assert.equal(holder.holds?.[0]?.state, 'held');

    const groupKey = `{}/{alertname="ServiceDown"}:{deployment="api", namespace="${ns}"}`;
    await world.postAlerts(groupKey, [alertFor(ns, 'api')]);
    const waiterId = world.alertWorkflowId(groupKey);
    await world.waitFor(waiterId, 'the waiter', (r) => r.holds?.[0]?.holder?.incidentId === holder.id);
    assert.equal(restartedAt(await world.cluster.deployment(ns, 'api')), undefined);

    await world.client.workflow.getHandle(holderId).terminate('e2e: a dead holder');
    const granted = await world.waitFor(
      waiterId,
      'the waiter granted and acting',
      (r) => r.status === 'mitigated',
      90_000,
    );
    assert.equal(granted.holds?.[0]?.state, 'held');
    assert.ok(restartedAt(await world.cluster.deployment(ns, 'api')), 'the waiter restarted api');
    await world.cliOk(['resolve', waiterId], 'carol');
    assert.equal((await world.result(waiterId)).status, 'resolved');
  });
});

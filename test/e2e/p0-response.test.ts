/**
 * RB1 end to end on the real engine: from a signed Slack command (with the worker SIGKILLed while
 * the runbook waits for its rollout) and from an Alertmanager alert (recovery fails, PagerDuty is
 * paged, the CLI acknowledges, the alert's resolution closes the incident).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { markerKey } from '../../activities/kubernetes';
import { incidentWorkflowId } from '../../common/ids';
import {
  ALICE,
  clusterChanges,
  eventually,
  restartedAt,
  SKIP_WITHOUT_E2E_BED,
  SLACK_CHANNEL,
  SERVICE_DOWN_ROUTE,
  worldForSuite,
} from './harness';

describe('p0-response end to end', { skip: SKIP_WITHOUT_E2E_BED }, () => {
  const world = worldForSuite({
    name: 'p0',
    routes: [SERVICE_DOWN_ROUTE],
  });

  test('Slack command → restart exactly once across a worker SIGKILL → recovery → CLI resolve → postmortem', async () => {
    const ns = world.namespace;
    // minReadySeconds keeps the rollout in progress long enough to kill the worker inside it.
    await world.cluster.deploy(ns, 'web', { replicas: 2, minReadySeconds: 12 });
    world.service.healthy = false;

    const answer = await world.slashCommand(`p0 ${ns}/web healthUrl=${world.service.healthUrl}`, ALICE);
    assert.equal(answer.status, 200, answer.body);
    const workflowId = incidentWorkflowId('p0-response', { namespace: ns, deployment: 'web' });

    const firstRestart = await eventually(
      'the rollout restart on the cluster',
      async () => restartedAt(await world.cluster.deployment(ns, 'web')),
      60_000,
    );
    // What the restart fixed: the service answers healthy from now on.
    world.service.healthy = true;
    await world.waitFor(workflowId, 'the runbook waits for the rollout', (r) => r.currentStep === 'wait-for-rollout');
    await world.engine.kill('SIGKILL');
    await world.engine.start();

    const ack = await world.findButton(/:ack$/, 'acknowledging the incident');
    assert.equal((await world.click(ack, ALICE)).status, 200);
    const mitigated = await world.waitFor(
      workflowId,
      'recovered and acknowledged after the restart',
      (r) => r.status === 'mitigated' && r.acknowledgedAt !== undefined,
      120_000,
    );
    assert.equal(mitigated.acknowledgedBy?.id, ALICE.id);
    assert.ok(mitigated.timeline.some((e) => e.message.startsWith('RECOVERY: web recovered')));

    await world.cliOk(['resolve', workflowId, '--note', 'verified by e2e'], 'carol');
    const final = await world.result(workflowId);
    assert.equal(final.status, 'resolved');
    assert.equal(final.failure, undefined);

    // The cluster: one restart (its annotation unchanged by the retry), one new ReplicaSet revision.
    const deployment = await world.cluster.deployment(ns, 'web');
    assert.equal(restartedAt(deployment), firstRestart);
    // The idempotency marker the restart left, keyed by the incident: what made a retry a no-op.
    const marker = deployment.metadata?.annotations?.[markerKey(final.id, 'restart')];
    assert.deepEqual(marker && JSON.parse(marker), { restartedAt: firstRestart });
    assert.deepEqual(
      (await world.cluster.revisions(ns, 'web')).map((r) => r.revision),
      [1, 2],
    );
    await world.cluster.rolloutStatus(ns, 'web');

    // The health checks the runbook made: unhealthy before the restart, healthy after it.
    assert.ok(world.service.healthHits.some((h) => !h.healthy));
    assert.ok(world.service.healthHits.some((h) => h.healthy));

    // Slack: one incident card in the channel, the timeline in its thread, the recovery said.
    const cards = world.slack.channelMessages(SLACK_CHANNEL);
    assert.equal(cards.length, 1, 'one card per incident');
    assert.match(world.slackText(), /P0 INCIDENT: web is down/);
    assert.match(world.slackText(), /RECOVERY: web recovered/);

    const postmortem = await world.postmortem(workflowId);
    assert.equal(postmortem.summary.status, 'resolved');
    assert.equal(postmortem.summary.runbook, 'p0-response');
    assert.equal(postmortem.summary.trigger?.kind, 'slack');
    const changes = clusterChanges(postmortem);
    assert.deepEqual(
      changes.map((a) => [a.name, a.outcome]),
      [['rolloutRestart', 'completed']],
    );
    const rollout = postmortem.activities.find((a) => a.name === 'waitForRollout');
    assert.ok(rollout, 'the rollout wait is in the postmortem');
    assert.equal(rollout.outcome, 'completed');
    assert.ok(rollout.attempts >= 2, `the killed attempt was retried (attempts ${rollout.attempts})`);
    const ackDecision = postmortem.decisions.find((d) => d.kind === 'acknowledge');
    assert.equal(ackDecision?.actor?.id, ALICE.id);
    assert.ok(postmortem.times.acknowledged && postmortem.times.mitigated && postmortem.times.resolved);
    assert.ok(postmortem.checklist.length > 0);
  });

  test('Alertmanager alert → restart → still unhealthy → PagerDuty paged → CLI ack → resolved alert closes it', async () => {
    const ns = world.namespace;
    await world.cluster.deploy(ns, 'api', { replicas: 1 });
    world.service.healthy = false;
    const groupKey = `{}/{alertname="ServiceDown"}:{deployment="api", namespace="${ns}"}`;
    const alert = {
      labels: { alertname: 'ServiceDown', severity: 'critical', namespace: ns, deployment: 'api' },
      annotations: { health_url: world.service.healthUrl, summary: 'api is not answering' },
    };
    const accepted = await world.postAlerts(groupKey, [alert]);
    assert.equal(accepted.outcome, 'accepted', JSON.stringify(accepted));
    assert.equal(accepted.runbook, 'p0-response');
    const workflowId = world.alertWorkflowId(groupKey);
    assert.equal(accepted.workflowId, workflowId);
    // Alertmanager re-sends the group every repeat_interval: the same incident hears it, no second one.
    assert.equal((await world.postAlerts(groupKey, [alert])).workflowId, workflowId);

    const failed = await world.waitFor(
      workflowId,
      'recovery failed and escalated',
      (r) => r.failure?.type === 'UNHEALTHY_AFTER_REMEDIATION' && r.escalationTier >= 1,
      90_000,
    );
    assert.ok(failed.timeline.some((e) => e.message.startsWith('ESCALATION: automatic recovery failed')));
    const page = await eventually('a PagerDuty alert for the incident', () =>
      [...world.pagerduty.alerts.values()].find((a) => a.status === 'triggered'),
    );
    assert.match(page.summary, /P0/);

    const ack = await world.cliOk(['ack', workflowId, '--note', 'looking'], 'carol');
    assert.match(ack, /acknowledged|Acknowledged/);
    await eventually(
      'the PagerDuty alert acknowledged',
      () => world.pagerduty.alerts.get(page.dedupKey)?.status === 'acknowledged',
    );

    await world.postAlerts(groupKey, [{ ...alert, status: 'resolved' }]);
    const final = await world.result(workflowId);
    assert.equal(final.status, 'resolved');
    assert.equal(final.acknowledgedBy?.id, 'cli:carol');
    await eventually(
      'the PagerDuty alert resolved',
      () => world.pagerduty.alerts.get(page.dedupKey)?.status === 'resolved',
    );

    const deployment = await world.cluster.deployment(ns, 'api');
    assert.ok(restartedAt(deployment), 'the restart was applied');
    assert.deepEqual(
      (await world.cluster.revisions(ns, 'api')).map((r) => r.revision),
      [1, 2],
    );

    const postmortem = await world.postmortem(workflowId);
    assert.equal(postmortem.summary.trigger?.kind, 'alert');
    assert.equal(postmortem.summary.failure?.type, 'UNHEALTHY_AFTER_REMEDIATION');
    assert.deepEqual(
      clusterChanges(postmortem).map((a) => a.name),
      ['rolloutRestart'],
    );
    assert.ok(
      postmortem.escalations.some((e) => e.channel === 'pagerduty'),
      `escalations: ${JSON.stringify(postmortem.escalations)}`,
    );
    assert.equal(postmortem.decisions.find((d) => d.kind === 'acknowledge')?.actor?.id, 'cli:carol');
    assert.ok(postmortem.times.detected, 'detection time comes from the alert startsAt');
  });
});

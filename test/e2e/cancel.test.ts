/**
 * Cancelling an incident on the real engine: an OOM triage started from Slack has raised the
 * memory limit and shrunk the exporter queue, paged PagerDuty, and waits at its disable-export gate
 * when it is cancelled. A non-approver is refused; an approver's `firebreak cancel --restore-now`
 * stops the runbook, withdraws the gate, restores every mitigation (the reference kubectl shows the
 * original values), resolves the page, and the incident closes `cancelled` with who and why on the
 * card, in the thread and in the postmortem.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { incidentWorkflowId } from '../../common/ids';
import { ALICE, BOB, SLACK_CHANNEL, SKIP_WITHOUT_E2E_BED, containerEnv, eventually, worldForSuite } from './harness';

describe('cancel end to end', { skip: SKIP_WITHOUT_E2E_BED }, () => {
  const world = worldForSuite({
    name: 'cancel',
    policy: {
      ackDeadline: { P0: '2s', P1: '2s', P2: '2s', P3: '2s' },
      gateEscalateAfter: '10m',
      gateDeadline: '20m',
    },
    approvers: { users: [BOB.id, 'cli:carol'] },
  });

  test('cancel at a pending gate: non-approver refused, approver cancels with --restore-now → originals back, page resolved', async () => {
    const ns = world.namespace;
    await world.cluster.deploy(ns, 'queue', { replicas: 1, limits: { memory: '256Mi' } });
    await world.cluster.markOomKilled(ns, 'queue');
    const answer = await world.slashCommand(`oom ${ns}/queue heapProfile=false exporterQueueSize=128`, ALICE);
    assert.equal(answer.status, 200, answer.body);
    const workflowId = incidentWorkflowId('oom-triage', { namespace: ns, deployment: 'queue' });

    await world.waitFor(workflowId, 'the disable-trace-export gate', (r) =>
      r.gates.some((g) => g.name === 'disable-trace-export' && g.status === 'pending'),
    );
    await eventually('a PagerDuty page', () =>
      [...world.pagerduty.alerts.values()].find((a) => a.status === 'triggered'),
    );
    let deployment = await world.cluster.deployment(ns, 'queue');
    assert.equal(deployment.spec?.template.spec?.containers[0]?.resources?.limits?.memory, '2Gi');
    assert.deepEqual(containerEnv(deployment), { OTEL_BSP_MAX_QUEUE_SIZE: '128' });

    const refused = await world.slashCommand(`cancel ${workflowId} false alarm`, ALICE);
    assert.equal(refused.status, 200);
    const refusal = await eventually('the refusal', () =>
      [refused.body, ...world.slack.responses.map((r) => JSON.stringify(r))].find((text) =>
        /may not cancel/.test(text),
      ),
    );
    assert.match(refusal, /only approvers/);
    assert.equal((await world.record(workflowId))?.status, 'mitigated', 'a refused cancel changes nothing');

    const out = await world.cliOk(
      ['cancel', workflowId, '--reason', 'false alarm: load test', '--restore-now'],
      'carol',
    );
    assert.match(out, /Cancelling/);
    const final = await world.result(workflowId);
    assert.equal(final.status, 'cancelled');
    assert.equal(final.cancellation?.by.id, 'cli:carol');
    assert.equal(final.cancellation?.reason, 'false alarm: load test');
    assert.match(final.outcome ?? '', /Cancelled by carol: false alarm: load test/);
    const gate = final.gates.find((g) => g.name === 'disable-trace-export');
    assert.equal(gate?.status, 'rejected');
    assert.match(gate?.comment ?? '', /withdrawn: the incident was cancelled/);
    assert.ok(!final.gates.some((g) => g.name === 'restore'), '--restore-now skips the restore gate');
    assert.equal(final.mitigations.length, 2);
    assert.ok(
      final.mitigations.every((m) => m.restoredAt),
      JSON.stringify(final.mitigations),
    );

    deployment = await world.cluster.deployment(ns, 'queue');
    assert.equal(deployment.spec?.template.spec?.containers[0]?.resources?.limits?.memory, '256Mi', 'limit restored');
    assert.deepEqual(containerEnv(deployment), {}, 'the exporter queue variable is gone');
    const page = await eventually('the page resolved', () =>
      [...world.pagerduty.alerts.values()].find((a) => a.status === 'resolved'),
    );
    assert.ok(page.summary.includes('queue'));

    const card = world.slack.channelMessages(SLACK_CHANNEL).find((m) => final.slack && m.ts === final.slack.ts);
    assert.match(JSON.stringify(card?.blocks ?? card?.text), /cancelled/);
    assert.match(JSON.stringify(card?.blocks ?? card?.text), /false alarm: load test/);
    const thread = world.slack.thread(SLACK_CHANNEL, final.slack!.ts).map((m) => m.text ?? '');
    assert.ok(
      thread.some((text) => /Cancellation requested by carol: false alarm: load test/.test(text)),
      thread.join('\n'),
    );

    const postmortem = await world.postmortem(workflowId);
    assert.equal(postmortem.summary.status, 'cancelled');
    assert.equal(postmortem.summary.cancellation?.by.id, 'cli:carol');
    assert.equal(postmortem.summary.cancellation?.reason, 'false alarm: load test');
    assert.ok(postmortem.mitigations.every((m) => m.restored));
  });
});

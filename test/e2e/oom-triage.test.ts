/**
 * RB4 end to end on the real engine: an OOM alert fired through the bed's real Alertmanager
 * (amtool), the kill found in the pod's status, the limit raised once and the exporter queue
 * shrunk, a heap profile streamed out of the pod into the evidence store, the leak judged from Prometheus, the worker
 * SIGKILLed while the disable-export gate waits, the gate approved through the CLI, and the
 * mitigations restored by a button once Alertmanager resolves the alert; and from a signed Slack
 * command, where the humans reject the extreme step and keep the mitigations.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { incidentWorkflowId } from '../../common/ids';
import { remoteWrite, sampleSeries } from '../bed/prometheus';
import { ALICE, BOB, clusterChanges, containerEnv, eventually, SKIP_WITHOUT_E2E_BED, worldForSuite } from './harness';

function memoryLimit(deployment: {
  spec?: { template: { spec?: { containers: { resources?: { limits?: Record<string, string> } }[] } } };
}) {
  return deployment.spec?.template.spec?.containers[0]?.resources?.limits?.memory;
}

describe('oom-triage end to end', { skip: SKIP_WITHOUT_E2E_BED }, () => {
  const world = worldForSuite({
    name: 'oom',
    policy: { restoreAfter: '60s' },
    routes: [
      {
        name: 'oom-kills',
        match: { alertname: '~KubePodOOMKilled|ContainerOOMKilled' },
        runbook: 'oom-triage',
        severity: { label: 'severity', map: { critical: 'P1', warning: 'P2' } },
        params: { heapProfileUrl: { annotation: 'heap_url' }, trendWindowSeconds: { value: '900' } },
      },
    ],
  });

  test('alert through Alertmanager → limit raised once, queue shrunk, heap profile, leak judged → worker SIGKILL at the gate → CLI approve → restored by button', async (t) => {
    const alertmanager = world.bed.alertmanager;
    if (!alertmanager) return t.skip('needs the alertmanager bed component');
    const ns = world.namespace;
    await world.cluster.deploy(ns, 'worker', { replicas: 1, limits: { memory: '256Mi' } });
    const pod = await world.cluster.markOomKilled(ns, 'worker');

    let leakWritten = false;
    if (world.bed.prometheusUrl) {
      // 2 MB/s for the last ten minutes: 002 case 2 calls anything above 1 MB/s a leak.
      const end = Date.now();
      await remoteWrite(world.bed.prometheusUrl, [
        {
          labels: { __name__: 'process_resident_memory_bytes', namespace: ns, pod, job: 'worker' },
          samples: sampleSeries(end - 600_000, end, 15, (s) => 100_000_000 + 2_000_000 * s),
        },
      ]);
      leakWritten = true;
    }

    const labels = { alertname: 'KubePodOOMKilled', severity: 'critical', namespace: ns, deployment: 'worker' };
    await world.amtool(labels, { annotations: { heap_url: world.service.heapUrl, summary: 'worker OOM-killed' } });
    const workflowId = await eventually(
      'the incident Alertmanager started',
      async () => (await world.incidentsOn(`${ns}/worker`))[0],
      60_000,
      500,
    );
    assert.ok(workflowId.startsWith('alert:alertmanager:'), workflowId);

    const atGate = await world.waitFor(
      workflowId,
      'the disable-trace-export gate',
      (r) => r.gates.some((g) => g.name === 'disable-trace-export' && g.status === 'pending'),
      90_000,
    );
    assert.equal(atGate.status, 'mitigated');
    assert.equal(atGate.severity, 'P1');
    const text = atGate.timeline.map((e) => e.message).join('\n');
    assert.match(text, /1 OOM kill\(s\) found|[1-9]\d* OOM kill\(s\) found/);
    assert.match(text, /Evidence kept: heap-profile-.*\.prof, \d+ bytes, sha256 [0-9a-f]{64}/);
    if (leakWritten) assert.match(text, /Memory trend: leak/);
    assert.ok(world.service.heapHits >= 1, 'the heap profile was fetched from the service');

    let deployment = await world.cluster.deployment(ns, 'worker');
    assert.equal(memoryLimit(deployment), '2Gi');
    assert.deepEqual(containerEnv(deployment), { OTEL_BSP_MAX_QUEUE_SIZE: '512' });

    await world.engine.kill('SIGKILL');
    await world.engine.start();
    const approved = await world.cliOk(['approve', workflowId, '--gate', 'disable-trace-export'], 'carol');
    assert.match(approved, /approved/i);
    await world.waitFor(workflowId, 'trace export disabled', (r) =>
      r.mitigations.some((m) => m.change.kind === 'env' && m.change.name === 'OTEL_TRACES_EXPORTER'),
    );
    deployment = await world.cluster.deployment(ns, 'worker');
    assert.deepEqual(containerEnv(deployment), { OTEL_BSP_MAX_QUEUE_SIZE: '512', OTEL_TRACES_EXPORTER: 'none' });
    assert.equal(memoryLimit(deployment), '2Gi');

    await world.amtool(labels, { resolved: true });
    await world.waitFor(workflowId, 'resolved by the alert', (r) => r.status === 'resolved', 60_000);
    const restore = await world.gateButton(workflowId, 'restore', 'approve');
    assert.equal((await world.click(restore, BOB)).status, 200);
    const final = await world.result(workflowId);
    assert.equal(final.status, 'resolved');

    deployment = await world.cluster.deployment(ns, 'worker');
    assert.equal(memoryLimit(deployment), '256Mi', 'the limit is back');
    assert.deepEqual(containerEnv(deployment), {}, 'the temporary variables are gone');

    const postmortem = await world.postmortem(workflowId);
    assert.equal(postmortem.summary.trigger?.kind, 'alert');
    const changes = clusterChanges(postmortem).map((a) => a.name);
    assert.equal(changes.filter((n) => n === 'setContainerResources').length, 2, `raise + restore: ${changes}`);
    assert.equal(changes.filter((n) => n === 'setDeploymentEnv').length, 4, `2 changes + 2 restores: ${changes}`);
    assert.ok(clusterChanges(postmortem).every((a) => a.outcome === 'completed'));
    assert.equal(postmortem.mitigations.length, 3);
    assert.ok(postmortem.mitigations.every((m) => m.restored));
    const gateDecision = postmortem.decisions.find((d) => d.gate === 'disable-trace-export');
    assert.equal(gateDecision?.actor?.id, 'cli:carol');
    assert.equal(postmortem.decisions.find((d) => d.gate === 'restore')?.actor?.id, BOB.id);
  });

  test('Slack command → limit doubled → extreme step rejected by button → resolved in Slack → mitigations kept', async () => {
    const ns = world.namespace;
    await world.cluster.deploy(ns, 'cache', { replicas: 1, limits: { memory: '256Mi' } });
    await world.cluster.markOomKilled(ns, 'cache');
    const answer = await world.slashCommand(
      `oom ${ns}/cache memoryPolicy=double memoryCap=4Gi heapProfile=false exporterQueueSize=256`,
      ALICE,
    );
    assert.equal(answer.status, 200, answer.body);
    const workflowId = incidentWorkflowId('oom-triage', { namespace: ns, deployment: 'cache' });

    await world.waitFor(workflowId, 'the disable-trace-export gate', (r) =>
      r.gates.some((g) => g.name === 'disable-trace-export' && g.status === 'pending'),
    );
    const reject = await world.gateButton(workflowId, 'disable-trace-export', 'reject');
    assert.equal((await world.click(reject, BOB)).status, 200);
    await world.waitFor(workflowId, 'trace export left on', (r) =>
      r.timeline.some((e) => e.message === 'Trace export left on: the gate was rejected'),
    );

    const resolve = await world.slashCommand(`resolve ${workflowId}`, ALICE);
    assert.equal(resolve.status, 200, resolve.body);
    const keep = await world.gateButton(workflowId, 'restore', 'reject');
    assert.equal((await world.click(keep, ALICE)).status, 200);
    const final = await world.result(workflowId);
    assert.equal(final.status, 'resolved');
    assert.ok(final.timeline.some((e) => e.message.startsWith('Mitigations kept in place by')));

    const deployment = await world.cluster.deployment(ns, 'cache');
    assert.equal(memoryLimit(deployment), '512Mi', 'doubled once, kept');
    assert.deepEqual(containerEnv(deployment), { OTEL_BSP_MAX_QUEUE_SIZE: '256' });

    const postmortem = await world.postmortem(workflowId);
    assert.equal(postmortem.summary.trigger?.kind, 'slack');
    assert.deepEqual(
      clusterChanges(postmortem).map((a) => a.name),
      ['setContainerResources', 'setDeploymentEnv'],
    );
    assert.ok(postmortem.mitigations.every((m) => !m.restored));
    assert.equal(postmortem.decisions.find((d) => d.gate === 'disable-trace-export')?.kind, 'reject');
  });
});

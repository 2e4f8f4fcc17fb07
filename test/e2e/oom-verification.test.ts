/**
 * OOM triage's verification window on the real engine and control plane: after the limit raise
 * rolls out, a new OOM kill of the target within the window escalates (not mitigated); none, and
 * the incident is mitigated.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { incidentWorkflowId } from '../../common/ids';
import { SKIP_WITHOUT_E2E_BED, sleep, worldForSuite } from './harness';

describe('oom-triage verification window end to end', { skip: SKIP_WITHOUT_E2E_BED }, () => {
  const world = worldForSuite({ name: 'oomverify', policy: { verifyWindow: '20s' } });

  const triage = async (deployment: string) => {
    const ns = world.namespace;
    await world.cluster.deploy(ns, deployment, { replicas: 1, limits: { memory: '256Mi' } });
    await world.cluster.markOomKilled(ns, deployment);
    const target = `${ns}/${deployment}`;
    const params = ['--param', 'heapProfile=false', '--param', 'offerDisableTraceExport=false'];
    await world.cliOk(['run', 'oom', '--target', target, ...params, '--no-wait'], 'carol');
    const workflowId = incidentWorkflowId('oom-triage', { namespace: ns, deployment });
    await world.waitFor(workflowId, 'the verification window', (r) => r.currentStep === 'verify', 90_000);
    return workflowId;
  };

  test('a new OOM kill after the limit raise rolled out: not mitigated, escalated', async () => {
    const workflowId = await triage('leaky');
    // The kill's finishedAt is 5 s in the past: let the window start before it.
    await sleep(6_000);
    const pod = await world.cluster.markOomKilled(world.namespace, 'leaky');
    const failed = await world.waitFor(
      workflowId,
      'escalated for the new OOM kill',
      (r) => r.failure?.type === 'UNHEALTHY_AFTER_REMEDIATION' && r.escalationTier >= 1,
      60_000,
    );
    assert.notEqual(failed.status, 'mitigated');
    assert.equal(failed.mitigatedAt, undefined);
    assert.ok(
      failed.timeline.some(
        (e) => e.message.includes('New OOM kill(s) after the mitigation') && e.message.includes(pod),
      ),
    );
    assert.match(failed.outcome ?? '', /did not recover .* new OOM kill/);
  });

  test('no new OOM kill within the window: mitigated only after it', async () => {
    const workflowId = await triage('steady');
    const watching = await world.record(workflowId);
    assert.notEqual(watching?.status, 'mitigated', 'not mitigated before the window');
    const mitigated = await world.waitFor(
      workflowId,
      'mitigated after the window',
      (r) => r.status === 'mitigated',
      60_000,
    );
    const verifyAt = Date.parse(mitigated.timeline.find((e) => e.data?.step === 'verify')!.at);
    assert.ok(Date.parse(mitigated.mitigatedAt!) - verifyAt >= 20_000, 'the whole window was watched');
    assert.ok(mitigated.timeline.some((e) => /No new OOM kill of .* within 20 s/.test(e.message)));
    assert.equal(mitigated.failure, undefined);
  });
});

/**
 * Refusals through every channel, counted on the running engine's `/metrics`: `firebreak start`
 * with permissions, signed Slack requests to its ingress and the `firebreak` CLI as a separate
 * process. Slack's refusals are counted by the ingress; the CLI's — a refused start, and decisions
 * the incident's workflow refuses — reach the worker and are counted there, on the same endpoint,
 * once each.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { incidentWorkflowId } from '../../common/ids';
import { ALICE, BOB, eventually, SKIP_WITHOUT_E2E_BED, worldForSuite } from './harness';

const MALLORY = { id: 'U0MALLORY01', name: 'mallory' };

/** `firebreak_access_refusals_total{action,channel}` from an exposition (0 when not yet seen). */
function refusals(exposition: string, action: string, channel: string): number {
  const prefix = `firebreak_access_refusals_total{action="${action}",channel="${channel}"} `;
  const line = exposition.split('\n').find((l) => l.startsWith(prefix));
  return line ? Number(line.slice(prefix.length)) : 0;
}

describe('refusals counted on /metrics for every channel', { skip: SKIP_WITHOUT_E2E_BED }, () => {
  const world = worldForSuite({
    name: 'access',
    approvers: { users: [BOB.id, 'cli:carol'] },
    people: {
      alice: { slack: ALICE.id, cli: 'alice' },
      bob: { slack: BOB.id, cli: 'bob' },
    },
    permissions: {
      start: [{ who: ['alice'] }],
      // Alice may approve, only not what she asked for herself (four-eyes).
      approve: [{ who: ['alice', 'bob', 'cli:carol'] }],
    },
  });

  test('Slack and CLI refusals, before and on an incident, each counted once on the engine it reached', async () => {
    const ns = world.namespace;
    await world.cluster.deploy(ns, 'api', { replicas: 1, image: 'registry.example/api:v1' });
    await world.cluster.setImage(ns, 'api', 'registry.example/api:v2');
    const workflowId = incidentWorkflowId('emergency-rollback', { namespace: ns, deployment: 'api' });
    const at = async () => {
      const text = await world.metrics();
      return (action: string, channel: string) => refusals(text, action, channel);
    };
    const reaches = (action: string, channel: string, expected: number) =>
      eventually(`firebreak_access_refusals_total{action="${action}",channel="${channel}"} = ${expected}`, async () =>
        (await at())(action, channel) === expected ? true : undefined,
      );
    const start = await at();

    // Starting: Mallory is refused in Slack (the ingress counts) and in the CLI (the refusal log).
    const slackStart = await world.slashCommand(`rollback ${ns}/api`, MALLORY);
    assert.equal(slackStart.status, 200);
    assert.match(slackStart.body, /You may not start .* nothing was started/);
    const cliStart = await world.cli(['run', 'emergency-rollback', '--target', `${ns}/api`, '--no-wait'], 'mallory');
    assert.equal(cliStart.code, 1, cliStart.stdout);
    assert.match(cliStart.stderr, /refused: cli:mallory may not start emergency-rollback/);
    await reaches('start', 'cli', start('start', 'cli') + 1);
    assert.equal((await at())('start', 'slack'), start('start', 'slack') + 1);
    assert.equal(await world.record(workflowId), undefined, 'nothing started');

    // Alice may start; on her incident the workflow refuses Mallory and Alice herself (four-eyes).
    const started = await world.cli(['run', 'emergency-rollback', '--target', `${ns}/api`, '--no-wait'], 'alice');
    assert.equal(started.code, 0, started.stderr);
    const button = await world.gateButton(workflowId, 'confirm-rollback', 'approve', { index: 0 });
    const choice = (await world.record(workflowId))!.gates[0]!.choices![0]!;
    const before = await at();
    const outsider = await world.cli(['approve', workflowId, '--choice', choice], 'mallory');
    assert.equal(outsider.code, 1, outsider.stdout);
    assert.match(outsider.stderr, /refused: .*may not decide gate confirm-rollback/);
    const self = await world.cli(['approve', workflowId, '--choice', choice], 'alice');
    assert.equal(self.code, 1, self.stdout);
    assert.match(self.stderr, /needs someone other than the person who triggered the incident/);
    await reaches('approve', 'cli', before('approve', 'cli') + 2);

    // Alice again, by her Slack account: refused, counted by the ingress and not again by the worker.
    assert.equal((await world.click(button, ALICE)).status, 200);
    const recorded = await world.waitFor(
      workflowId,
      'the Slack refusal on the timeline',
      (r) => r.timeline.filter((e) => /^Refused: /.test(e.message)).length === 3,
    );
    assert.deepEqual(
      recorded.timeline.filter((e) => /^Refused: /.test(e.message)).map((e) => e.message.split(' (')[0]),
      ['Refused: mallory may not approve', 'Refused: alice may not approve', 'Refused: alice may not approve'],
    );
    const after = await at();
    assert.equal(after('approve', 'slack'), before('approve', 'slack') + 1);
    assert.equal(after('approve', 'cli'), before('approve', 'cli') + 2);

    // Cancelling is for approvers once they are configured: the CLI's refusal is counted too.
    const cancel = await world.cli(['cancel', workflowId, '--reason', 'mine now'], 'mallory');
    assert.equal(cancel.code, 1, cancel.stdout);
    await reaches('cancel', 'cli', before('cancel', 'cli') + 1);
    assert.equal((await world.record(workflowId))!.status, 'open', 'still open');
    await world.client.workflow.getHandle(workflowId).terminate('test over');
  });
});

/**
 * Rehearsals (`--dry-run`) on the real engine against the real control plane: each of the four
 * runbooks runs whole, every change goes to the API server as a server-side dry run, and the
 * cluster is byte-identical afterwards (`kubectl get deploy -o json`, status aside). The
 * postmortem lists every would-be change, the PagerDuty stand-in hears nothing from a rehearsal
 * (its response time passes while a gate waits), the card and the approval request say REHEARSAL.
 * A rehearsal and a real incident on the same deployment both start, and neither waits for the other.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { incidentWorkflowId, rehearsalWorkflowId } from '../../common/ids';
import type { IncidentRecord, RunbookId } from '../../common/types';
import { ALICE, BOB, SLACK_CHANNEL, SKIP_WITHOUT_E2E_BED, World, eventually, worldForSuite } from './harness';

/** The namespace's Deployments as kubectl prints them, without the status the controllers keep. */
async function deployments(world: World): Promise<unknown[]> {
  const list = await world.cluster.kubectlJson<{ items: { metadata: { name: string }; status?: unknown }[] }>([
    '-n',
    world.namespace,
    'get',
    'deploy',
  ]);
  return list.items
    .map(({ status: _status, ...rest }) => rest)
    .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
}

describe('rehearsal end to end', { skip: SKIP_WITHOUT_E2E_BED }, () => {
  const world = worldForSuite({
    name: 'rehearsal',
    // The response time passes while a rehearsal waits at a gate: PagerDuty (tier 1) would be paged.
    policy: {
      ackDeadline: { P0: '3s', P1: '3s', P2: '3s', P3: '3s' },
      repageInterval: '5s',
      gateEscalateAfter: '4s',
      gateDeadline: '10m',
    },
  });

  /** `firebreak run … --dry-run`, followed to its end, as an on-call engineer types it. */
  async function rehearse(runbook: RunbookId, target: string, extra: string[]): Promise<string> {
    const result = await world.cli(
      ['run', runbook, '--target', target, '--dry-run', '--timeout', '150s', ...extra],
      'carol',
      180_000,
    );
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}\n${world.logs(40)}`);
    assert.match(result.stdout, /REHEARSAL \(dry run\)/);
    return result.stdout;
  }

  /** What every rehearsal leaves: no page, REHEARSAL everywhere, the postmortem listing every would-be change. */
  async function assertRehearsal(workflowId: string, expected: RegExp[]): Promise<IncidentRecord> {
    const record = await world.result(workflowId, 120_000);
    assert.equal(record.status, 'resolved', record.outcome);
    assert.match(record.title, /^REHEARSAL — /);
    assert.deepEqual(record.mitigations, [], 'nothing entered the mitigation ledger');
    assert.deepEqual(record.holds ?? [], [], 'no deployment hold');
    assert.ok(
      record.timeline.every((entry) => entry.message.startsWith('REHEARSAL: ')),
      'every timeline entry says REHEARSAL',
    );

    const pages = world.pagerduty.events.filter((event) => JSON.stringify(event.body).includes(record.id));
    assert.deepEqual(pages, [], 'no page reached PagerDuty');

    const card = world.slack.channelMessages(SLACK_CHANNEL).find((m) => record.slack && m.ts === record.slack.ts);
    const cardText = JSON.stringify(card?.blocks ?? []);
    assert.match(cardText, /REHEARSAL — /, 'the card title says REHEARSAL');
    assert.match(cardText, /REHEARSAL \(dry run\)/, 'the card carries the banner');
    assert.match(cardText, /Would-be changes/);
    const thread = world.slack.thread(SLACK_CHANNEL, record.slack!.ts);
    assert.ok(!thread.some((m) => /S0ONCALL01/.test(JSON.stringify(m))), 'no Slack tier was mentioned');

    const postmortem = await world.postmortem(workflowId);
    assert.equal(postmortem.summary.rehearsal, true);
    assert.match(postmortem.summary.title ?? '', /^REHEARSAL — /);
    assert.deepEqual(postmortem.mitigations, []);
    const listed = (postmortem.wouldBeChanges ?? []).map((c) => `${c.target.deployment}: ${c.what}`);
    assert.equal(listed.length, expected.length, listed.join('\n'));
    for (const pattern of expected) {
      assert.ok(
        listed.some((line) => pattern.test(line)),
        `${pattern} in the postmortem:\n${listed.join('\n')}`,
      );
    }
    // The history lists them as scheduled, the record as answered: services are mitigated side by side.
    assert.deepEqual(
      [...listed].sort(),
      record.rehearsal?.wouldChange.map((c) => `${c.target.deployment}: ${c.what}`).sort(),
      'the record and the history agree',
    );
    const markdown = await world.cliOk(['postmortem', workflowId, '--format', 'md']);
    assert.match(markdown, /^# Postmortem: REHEARSAL — /m);
    assert.match(markdown, /## Would-be changes/);
    for (const change of postmortem.wouldBeChanges ?? []) assert.ok(markdown.includes(change.what.split(' (')[0]!));
    return record;
  }

  test('p0-response --dry-run --yes: the restart is a dry run, the cluster is unchanged', async () => {
    const ns = world.namespace;
    await world.cluster.deploy(ns, 'checkout', { replicas: 2 });
    const before = await deployments(world);
    const out = await rehearse('p0-response', `${ns}/checkout`, ['--severity', 'P0', '--yes']);
    assert.match(out, /would change .*\/checkout: rollout restart/);
    const record = await assertRehearsal(
      rehearsalWorkflowId('p0-response', { namespace: ns, deployment: 'checkout' }),
      [/^checkout: rollout restart: pod template kubectl\.kubernetes\.io\/restartedAt unset → \d{4}-/],
    );
    assert.ok(record.timeline.some((e) => /Skipped the rollout wait/.test(e.message)));
    assert.deepEqual(await deployments(world), before, 'kubectl get deploy -o json: byte-identical');
  });

  test('emergency-rollback --dry-run from Slack: the confirm gate is asked and decided (four eyes), the undo is a dry run', async () => {
    const ns = world.namespace;
    await world.cluster.deploy(ns, 'web', { replicas: 1, image: 'registry.example/web:v1' });
    await world.cluster.setImage(ns, 'web', 'registry.example/web:v2-broken');
    const before = await deployments(world);
    const answer = await world.slashCommand(`rollback ${ns}/web --dry-run`, ALICE);
    assert.equal(answer.status, 200, answer.body);
    assert.match(answer.body, /REHEARSAL/);
    const workflowId = rehearsalWorkflowId('emergency-rollback', { namespace: ns, deployment: 'web' });
    await world.waitFor(workflowId, 'the confirm gate', (r) =>
      r.gates.some((g) => g.name === 'confirm-rollback' && g.status === 'pending'),
    );
    // The response time passes with nobody acknowledging: the tier is named, never paged.
    await world.waitFor(workflowId, 'a would-be page', (r) =>
      r.timeline.some((e) => /would page PagerDuty \(pagerduty\), but a rehearsal pages nobody/.test(e.message)),
    );
    const request = await eventually('the approval request saying REHEARSAL', () =>
      world.slack.messages.find((m) => /Approval needed.*REHEARSAL \(nothing will change\)/.test(m.text ?? '')),
    );
    assert.ok(request);
    const button = await world.gateButton(workflowId, 'confirm-rollback', 'approve', { index: 0 });
    assert.equal((await world.click(button, BOB)).status, 200);
    await assertRehearsal(workflowId, [/^web: rollout undo: revision 2 → 1 \(pod template of revision 1\)$/]);
    assert.deepEqual(await deployments(world), before, 'kubectl get deploy -o json: byte-identical');
    assert.equal(world.pagerduty.alerts.size, 0, 'PagerDuty heard nothing');
  });

  test('avalanche-mitigation --dry-run --yes on two services: four would-be changes each, none made', async () => {
    const ns = world.namespace;
    await world.cluster.deploy(ns, 'front', { replicas: 1 });
    await world.cluster.deploy(ns, 'cart', { replicas: 1 });
    const before = await deployments(world);
    await rehearse('avalanche-mitigation', `${ns}/front,cart`, ['--param', 'replicas=3', '--yes']);
    const expected = ['front', 'cart'].flatMap((name) => [
      new RegExp(`^${name}: env OTEL_TRACES_SAMPLER_ARG unset → 0\\.001 \\(container app\\)$`),
      new RegExp(`^${name}: rollout restart: pod template kubectl\\.kubernetes\\.io/restartedAt unset → `),
      new RegExp(`^${name}: replicas 1 → 3$`),
      new RegExp(`^${name}: env ENABLE_CIRCUIT_BREAKER unset → true \\(container app\\)$`),
    ]);
    await assertRehearsal(
      rehearsalWorkflowId('avalanche-mitigation', { namespace: ns, deployment: 'front' }),
      expected,
    );
    assert.deepEqual(await deployments(world), before, 'kubectl get deploy -o json: byte-identical');
  });

  test('oom-triage --dry-run --yes: limit, queue and (gate skipped) exporter are would-be changes, no exec', async () => {
    const ns = world.namespace;
    await world.cluster.deploy(ns, 'queue', { replicas: 1, limits: { memory: '256Mi' } });
    await world.cluster.markOomKilled(ns, 'queue');
    const before = await deployments(world);
    await rehearse('oom-triage', `${ns}/queue`, ['--param', 'exporterQueueSize=128', '--yes']);
    const record = await assertRehearsal(rehearsalWorkflowId('oom-triage', { namespace: ns, deployment: 'queue' }), [
      /^queue: limits\.memory 256Mi → 2Gi \(container app\)$/,
      /^queue: env OTEL_BSP_MAX_QUEUE_SIZE unset → 128 \(container app\)$/,
      /^queue: env OTEL_TRACES_EXPORTER unset → none \(container app\)$/,
    ]);
    assert.ok(record.timeline.some((e) => /Skipped the heap profile/.test(e.message)));
    const gate = record.gates.find((g) => g.name === 'disable-trace-export');
    assert.equal(gate?.status, 'approved');
    assert.match(gate?.comment ?? '', /not asked: rehearsal with --yes/);
    assert.deepEqual(await deployments(world), before, 'kubectl get deploy -o json: byte-identical');
  });

  test('a rehearsal and a real incident on one deployment both start; neither holds the other up', async () => {
    const ns = world.namespace;
    await world.cluster.deploy(ns, 'pay', { replicas: 1 });
    const target = { namespace: ns, deployment: 'pay' };
    const rehearsalId = rehearsalWorkflowId('p0-response', target);
    const realId = incidentWorkflowId('p0-response', target);
    // P1: the restart needs approval, so both wait at their gate and nothing changes.
    const run = (extra: string[]) =>
      world.cliOk(['run', 'p0-response', '--target', `${ns}/pay`, '--severity', 'P1', '--no-wait', ...extra]);
    const gatePending = (r: IncidentRecord) => r.gates.some((g) => g.name === 'restart' && g.status === 'pending');

    assert.match(await run(['--dry-run']), /Started INC-.*-rehearsal-/);
    await world.waitFor(rehearsalId, 'the rehearsal at its gate', gatePending);
    assert.match(await run([]), /Started INC-/, 'a real incident starts while the rehearsal is open');
    const real = await world.waitFor(
      realId,
      'the real incident holding pay and at its gate',
      (r) => Boolean(r.holds?.some((h) => h.state === 'held')) && gatePending(r),
    );

    await world.cliOk(['reject', rehearsalId, '--gate', 'restart'], 'dave');
    assert.equal((await world.result(rehearsalId)).status, 'cancelled');
    assert.match(
      await run(['--dry-run']),
      /Started INC-.*-rehearsal-/,
      'a rehearsal starts while the real one is open',
    );
    const second = await world.waitFor(rehearsalId, 'the second rehearsal at its gate', gatePending);
    assert.ok(
      second.timeline.some((e) =>
        new RegExp(`pay is held by incident ${real.id} .*a real run would wait for it; the rehearsal does not`).test(
          e.message,
        ),
      ),
      second.timeline.map((e) => e.message).join('\n'),
    );
    assert.deepEqual(second.holds ?? [], [], 'the rehearsal claims no hold');

    await world.cliOk(['reject', rehearsalId, '--gate', 'restart'], 'dave');
    await world.cliOk(['reject', realId, '--gate', 'restart'], 'dave');
    await world.result(rehearsalId);
    await world.result(realId);
  });
});

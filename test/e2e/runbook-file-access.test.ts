/**
 * A team's runbook file granted like a built-in runbook: `firebreak start` with `permissions.start`
 * naming only a runbook file, by its alias (resolved to the file's id once the files load). Alice
 * starts it from Slack; she is refused a built-in runbook, and nothing starts.
 */
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { incidentWorkflowId } from '../../common/ids';
import { ALICE, SKIP_WITHOUT_E2E_BED, World } from './harness';

/** Diagnostics only: the pods, then done. */
const LOOK_RUNBOOK = `
id: team-look
title: Look at a service's pods
aliases: [look]
defaultSeverity: P3
steps:
  - id: pods
    pods: {}
  - id: done
    end: { status: done, message: 'looked at \${target.deployment}' }
`;

describe('permissions grant a runbook file', { skip: SKIP_WITHOUT_E2E_BED }, () => {
  let world: World;

  before(async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'firebreak-e2e-runbook-access-'));
    await writeFile(path.join(dir, 'team-look.yaml'), LOOK_RUNBOOK);
    world = await World.create({
      name: 'rbaccess',
      env: { FIREBREAK_RUNBOOKS_DIR: dir },
      people: { alice: { slack: ALICE.id, cli: 'alice' } },
      // Only the file runbook, by its alias.
      permissions: { start: [{ runbooks: ['look'], who: ['alice'] }] },
    });
  });

  after(async () => {
    await world?.close();
  });

  test('a user allowed only a runbook file starts it from Slack and is refused a built-in one', async () => {
    const ns = world.namespace;
    await world.cluster.deploy(ns, 'web', { replicas: 1 });

    const refused = await world.slashCommand(`p0 ${ns}/web`, ALICE);
    assert.equal(refused.status, 200);
    assert.match(refused.body, /You may not start .* in `[^`]+`; nothing was started/);
    assert.equal(
      await world.record(incidentWorkflowId('p0-response', { namespace: ns, deployment: 'web' })),
      undefined,
    );

    const started = await world.slashCommand(`look ${ns}/web`, ALICE);
    assert.equal(started.status, 200, started.body);
    assert.doesNotMatch(started.body, /may not start/);
    const workflowId = incidentWorkflowId('team-look', { namespace: ns, deployment: 'web' });
    const final = await world.result(workflowId);
    assert.equal(final.runbook, 'team-look');
    assert.deepEqual([final.trigger.kind, final.trigger.kind === 'slack' && final.trigger.user], ['slack', ALICE.id]);
    assert.ok(
      final.timeline.some((e) => e.message === 'looked at web'),
      final.timeline.map((e) => e.message).join('\n'),
    );
  });
});

/**
 * A team's runbook file granted like a built-in runbook: `firebreak start` with `permissions.start`
 * naming only a runbook file, by its alias (resolved to the file's id once the files load). Alice
 * starts it from Slack; she is refused a built-in runbook, and nothing starts.
 */
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { incidentWorkflowId } from '../../common/ids';
import { ALICE, SKIP_WITHOUT_E2E_BED, worldForSuite } from './harness';

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
  const world = worldForSuite(async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'firebreak-e2e-runbook-access-'));
    await writeFile(path.join(dir, 'team-look.yaml'), LOOK_RUNBOOK);
    return {
      name: 'rbaccess',
      env: { FIREBREAK_RUNBOOKS_DIR: dir },
      people: { alice: { slack: ALICE.id, cli: 'alice' } },
      // Only the file runbook, by its alias.
      permissions: { start: [{ runbooks: ['look'], who: ['alice'] }] },
    };
  });

  test('a user allowed only a runbook file starts it from Slack and is refused a built-in one', async () => {
    const ns = world.namespace;
    await world.cluster.deploy(ns, 'web', { replicas: 1 });

    const refused = await world.slashCommand(`p0 ${ns}/web`, ALICE);
    assert.equal(refused.status, 200);
    assert.match(refused.body, /You may not start .* in `[^`]+`; nothing was started/);

    const started = await world.slashCommand(`look ${ns}/web`, ALICE);
    assert.equal(started.status, 200, started.body);
    assert.doesNotMatch(started.body, /may not start/);
    const workflowId = incidentWorkflowId('team-look', { namespace: ns, deployment: 'web' });
    // Slack's answer comes first; the incident starts right after it.
    const looked = await world.waitFor(workflowId, 'the runbook ended', (r) =>
      r.timeline.some((e) => e.message === 'looked at web'),
    );
    assert.equal(looked.runbook, 'team-look');
    assert.deepEqual(
      [looked.trigger.kind, looked.trigger.kind === 'slack' && looked.trigger.user],
      ['slack', ALICE.id],
    );
    await world.cliOk(['resolve', workflowId, '--note', 'verified by e2e'], 'carol');
    assert.equal((await world.result(workflowId)).status, 'resolved');
    // By now a start would have shown: the refused built-in runbook never ran.
    assert.equal(
      await world.record(incidentWorkflowId('p0-response', { namespace: ns, deployment: 'web' })),
      undefined,
    );
  });
});

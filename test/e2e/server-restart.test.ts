/**
 * Chaos on the server side: the Temporal server SIGKILLed while an incident waits at its approval
 * gate, and started again on the same database and address. The server is of the bed's kind
 * (test/bed/own-temporal.ts): the dev server on its SQLite file, or — with `npm test -- --temporal
 * postgres` — the server built from its Go module on PostgreSQL, whose search attributes only the
 * engine's own start-up registers. The incident started from the CLI must survive with its
 * history, take the approval given after the restart, restart the deployment exactly once and
 * export a complete postmortem.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { incidentWorkflowId } from '../../common/ids';
import { FIREBREAK_SEARCH_ATTRIBUTES } from '../../common/search-attributes';
import { bedTemporalKind, customSearchAttributes, startOwnTemporal, type OwnTemporal } from '../bed/own-temporal';
import { clusterChanges, eventually, restartedAt, SKIP_WITHOUT_E2E_BED, worldForSuite } from './harness';

const KIND = bedTemporalKind() === 'postgres' ? 'on PostgreSQL' : 'dev server';

describe(`Temporal server (${KIND}) killed mid-incident`, { skip: SKIP_WITHOUT_E2E_BED }, () => {
  let server: OwnTemporal;
  let attributesBefore: string[];

  const world = worldForSuite(async () => {
    server = await startOwnTemporal();
    attributesBefore = await customSearchAttributes(server.address);
    return { name: 'server', temporalAddress: server.address };
  });

  // After the world's own after hook (hooks run in the order registered): the engine stops first.
  after(async () => {
    await server?.stop();
  });

  test('CLI run → gate pending → server SIGKILL + restart on the same database → CLI approve → restart once', async (t) => {
    const t0 = Date.now();
    const mark = (what: string) => t.diagnostic(`${what} at +${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const ns = world.namespace;
    const firebreakAttributes = FIREBREAK_SEARCH_ATTRIBUTES.map((key) => key.name);
    if (server.kind === 'postgres') {
      // A new external cluster: nobody registered Firebreak's search attributes but `firebreak start`.
      assert.deepEqual(
        attributesBefore.filter((name) => firebreakAttributes.includes(name)),
        [],
      );
    }
    const attributes = await customSearchAttributes(server.address);
    for (const name of firebreakAttributes) assert.ok(attributes.includes(name), `${name} registered`);
    await world.cluster.deploy(ns, 'svc', { replicas: 1 });
    const started = await world.cliOk(['run', 'p0', '--target', `${ns}/svc`, '--severity', 'P1', '--no-wait'], 'carol');
    const workflowId = incidentWorkflowId('p0-response', { namespace: ns, deployment: 'svc' });
    assert.match(started, new RegExp(workflowId.replace(/[/.]/g, '\\$&')));

    const before = await world.waitFor(workflowId, 'the restart gate', (r) =>
      r.gates.some((g) => g.name === 'restart' && g.status === 'pending'),
    );
    const timelineBefore = before.timeline.length;

    mark('gate pending');
    await server.kill();
    await assert.rejects(
      world.client.withDeadline(Date.now() + 2_000, () => world.record(workflowId)),
      'the server is really gone',
    );
    mark('server gone');
    await server.restart();
    mark(`${server.describe} restarted`);

    // Nothing lost: the same incident, its timeline and its pending gate, from the same database.
    const after = await world.waitFor(workflowId, 'the incident back after the restart', (r) =>
      r.gates.some((g) => g.name === 'restart' && g.status === 'pending'),
    );
    assert.equal(after.id, before.id);
    assert.ok(after.timeline.length >= timelineBefore);
    assert.equal(restartedAt(await world.cluster.deployment(ns, 'svc')), undefined, 'nothing restarted unapproved');

    // The engine reconnects on its own; it must not need a restart of its own.
    await eventually('the engine healthy again', async () => {
      const health = await fetch(`${world.engine.url}/healthz`, { signal: AbortSignal.timeout(2_000) });
      return health.status === 200;
    });
    assert.ok(world.engine.pid, `the engine survived the server restart:\n${world.logs(20)}`);
    mark('incident and engine back');

    const approved = await world.cliOk(['approve', workflowId, '--gate', 'restart'], 'dave');
    assert.match(approved, /approved/i);
    await world.waitFor(workflowId, 'mitigated', (r) => r.status === 'mitigated', 90_000);
    mark('approved and mitigated');
    await world.cliOk(['resolve', workflowId], 'dave');
    const final = await world.result(workflowId);
    assert.equal(final.status, 'resolved');

    assert.ok(restartedAt(await world.cluster.deployment(ns, 'svc')));
    assert.deepEqual(
      (await world.cluster.revisions(ns, 'svc')).map((r) => r.revision),
      [1, 2],
    );
    const postmortem = await world.postmortem(workflowId);
    assert.equal(postmortem.summary.trigger?.kind, 'cli');
    assert.deepEqual(
      clusterChanges(postmortem).map((a) => [a.name, a.outcome]),
      [['rolloutRestart', 'completed']],
    );
    const approval = postmortem.decisions.find((d) => d.kind === 'approve');
    assert.equal(approval?.actor?.id, 'cli:dave');
    assert.equal(postmortem.summary.status, 'resolved');
  });
});

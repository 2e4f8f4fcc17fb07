/**
 * Safe runbook evolution, end to end: an incident started on build A stays open while
 * `firebreak start` is restarted with build B, whose P0 runbook issues its diagnostics in another
 * order. The open incident finishes on A — its worker started again from the bundle kept in the
 * data dir — while a new incident runs on B; once A's last incident closes, A's worker stops and its
 * bundle is pruned. `firebreak replay` says the open incident replays on its own build and names
 * the first diverging event against B's bundle.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import proto from '@temporalio/proto';
import { incidentWorkflowId } from '../../common/ids';
import { holdWorkflowId } from '../../domain/hold';
import { buildOf } from '../../worker/versioning';
import { bundleReorderedBuild } from '../versioning/reordered-build';
import { eventually, restartedAt, SKIP_WITHOUT_E2E_BED, worldForSuite } from './harness';

interface Builds {
  current: string;
  older: string[];
}

describe('pinned builds across a restart of firebreak start', { skip: SKIP_WITHOUT_E2E_BED }, () => {
  // Sweeps every second so the test sees build A's worker stop soon after its last incident closes.
  const world = worldForSuite({ name: 'builds', env: { FIREBREAK_BUILD_SWEEP_SECONDS: '1' } });
  let bundleB: string;

  before(async () => {
    bundleB = path.join(world.workDir, 'build-b.js');
    await writeFile(bundleB, await bundleReorderedBuild());
  });

  const builds = async (): Promise<Builds> => {
    const health = await fetch(`${world.engine.url}/healthz`, { signal: AbortSignal.timeout(2_000) });
    return ((await health.json()) as { builds: Builds }).builds;
  };
  /** The build the server routes the incident's tasks to (its pinned version). */
  const pinnedBuild = async (workflowId: string) =>
    (await world.client.workflow.getHandle(workflowId).describe()).raw.workflowExecutionInfo?.versioningInfo
      ?.deploymentVersion?.buildId;
  /** Every build that completed a workflow task of the incident, in history order. */
  const buildsInHistory = async (workflowId: string) => {
    const history = await world.client.workflow.getHandle(workflowId).fetchHistory();
    return [
      ...new Set(
        (history.events ?? []).flatMap((e) => e.workflowTaskCompletedEventAttributes?.deploymentVersion?.buildId ?? []),
      ),
    ];
  };
  const gatePending = (workflowId: string) =>
    world.waitFor(workflowId, 'the restart gate', (r) =>
      r.gates.some((g) => g.name === 'restart' && g.status === 'pending'),
    );

  test('an incident open across the upgrade finishes on build A; a new one runs on B; A stops after', async (t) => {
    const t0 = Date.now();
    const mark = (what: string) => t.diagnostic(`${what} at +${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const ns = world.namespace;
    await Promise.all([
      world.cluster.deploy(ns, 'old', { replicas: 1 }),
      world.cluster.deploy(ns, 'new', { replicas: 1 }),
    ]);

    const buildA = (await builds()).current;
    const idB = buildOf(await readFile(bundleB, 'utf8')).buildId;
    assert.notEqual(idB, buildA, 'build B is another build');
    const keptA = path.join(world.engine.env.FIREBREAK_DATA_DIR!, 'builds', `${buildA}.js`);
    assert.ok(existsSync(keptA), 'build A is kept in the data dir');
    const codeA = await readFile(keptA, 'utf8');

    await world.cliOk(['run', 'p0', '--target', `${ns}/old`, '--severity', 'P1', '--no-wait']);
    const onA = incidentWorkflowId('p0-response', { namespace: ns, deployment: 'old' });
    await gatePending(onA);
    assert.equal(await pinnedBuild(onA), buildA, 'started on build A');
    // The deployment hold it claimed is shared by every build's incidents: it follows the current build.
    const hold = await world.client.workflow.getHandle(holdWorkflowId({ namespace: ns, deployment: 'old' })).describe();
    assert.equal(
      hold.raw.workflowExecutionInfo?.versioningInfo?.behavior,
      proto.temporal.api.enums.v1.VersioningBehavior.VERSIONING_BEHAVIOR_AUTO_UPGRADE,
    );
    mark('incident on A waits at its gate');

    await world.engine.stop();
    world.engine.env.FIREBREAK_WORKFLOW_BUNDLE = bundleB;
    await world.engine.start();
    assert.deepEqual(await builds(), { current: idB, older: [buildA] }, 'A runs beside B for its open incident');
    mark('restarted on B');

    // The check before moving incidents: fine on their own build, divergent on B.
    const own = await world.cli(['replay', '--all-open']);
    t.diagnostic(`firebreak replay --all-open: exit ${own.code}\n${own.stdout}`);
    assert.equal(own.code, 0, `${own.stdout}${own.stderr}`);
    assert.match(own.stdout, new RegExp(`^ok +${escape(onA)} \\(build ${buildA}\\)$`, 'm'));
    const onB = await world.cli(['replay', onA, '--bundle', bundleB]);
    t.diagnostic(`firebreak replay ${onA} --bundle build-b.js: exit ${onB.code}\n${onB.stdout}`);
    assert.equal(onB.code, 1, `${onB.stdout}${onB.stderr}`);
    assert.match(
      onB.stdout,
      new RegExp(`^FAIL +${escape(onA)}: first diverging event \\d+ ActivityTaskScheduled \\(listRecentEvents\\)`, 'm'),
    );

    await world.cliOk(['run', 'p0', '--target', `${ns}/new`, '--severity', 'P1', '--no-wait']);
    const newOnB = incidentWorkflowId('p0-response', { namespace: ns, deployment: 'new' });
    await gatePending(newOnB);
    assert.equal(await pinnedBuild(newOnB), idB, 'a new incident starts on build B');

    // A's incident carries on, on A: B's code would fail its replay at the reordered diagnostics.
    await world.cliOk(['approve', onA, '--gate', 'restart'], 'dave');
    await world.waitFor(onA, 'mitigated on A', (r) => r.status === 'mitigated', 90_000);
    assert.ok(restartedAt(await world.cluster.deployment(ns, 'old')), 'the approved restart happened');
    assert.match(await world.cliOk(['status', onA]), new RegExp(`^Build: ${buildA} `, 'm'));
    await world.cliOk(['resolve', onA], 'dave');
    assert.equal((await world.result(onA)).status, 'resolved');
    assert.deepEqual(await buildsInHistory(onA), [buildA], 'every workflow task of it ran on A');
    assert.equal((await world.postmortem(onA)).source.build?.buildId, buildA);
    mark('incident on A resolved');

    await eventually('build A worker stopped', async () => (await builds()).older.length === 0, 60_000, 500);
    assert.equal((await builds()).current, idB);
    assert.ok(!existsSync(keptA), "A's kept bundle is pruned");
    assert.match(world.logs(200), new RegExp(`Build ${buildA}: its last incident closed; its worker stopped`));
    mark('build A worker stopped');

    await world.cliOk(['approve', newOnB, '--gate', 'restart'], 'dave');
    await world.waitFor(newOnB, 'mitigated on B', (r) => r.status === 'mitigated', 90_000);
    await world.cliOk(['resolve', newOnB], 'dave');
    assert.equal((await world.result(newOnB)).status, 'resolved');
    assert.deepEqual(await buildsInHistory(newOnB), [idB]);

    // A kept build nobody's incident is on any more is pruned at the next start, and runs no worker.
    await writeFile(keptA, codeA);
    await world.engine.stop();
    await world.engine.start();
    assert.deepEqual(await builds(), { current: idB, older: [] });
    assert.ok(!existsSync(keptA), 'pruned at start');
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

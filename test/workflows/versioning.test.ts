/**
 * Pinned worker versioning on the real dev server, with the production deployment options
 * (worker/worker.ts) and the production current-version call (worker/versioning.ts): two builds
 * of the workflows — today's, and one whose P0 runbook reorders its diagnostics — poll one task
 * queue. An incident started on A finishes on A after B became current, through a continue-as-new
 * too; a new incident starts on B; visibility counts each build's open incidents.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Client, Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import { NativeConnection, Worker } from '@temporalio/worker';
import { parseEnv } from '../../config/env';
import { alertSignal, decideUpdate, resolveSignal, type AlertInstance } from '../../domain/messages';
import { createSinks } from '../../worker/sinks';
import {
  buildOf,
  deploymentVersion,
  openIncidentsOn,
  setCurrentBuild,
  type WorkflowBuild,
} from '../../worker/versioning';
import { deploymentOptions } from '../../worker/worker';
import {
  bundleWorkflowsOnce,
  connectTestClient,
  installQuietRuntime,
  testNamespace,
  testTemporalAddress,
  uniqueTaskQueue,
} from '../bed/worker';
import { bundleReorderedBuild } from '../versioning/reordered-build';
import { FakeWorld } from './fakes';
import { BOB, fastPolicy, gatePending, history, startIncident, waitForRecord, type StartOptions } from './harness';

const env = parseEnv({ FIREBREAK_TASK_QUEUE: uniqueTaskQueue('versions'), TEMPORAL_NAMESPACE: testNamespace() });
const taskQueue = env.FIREBREAK_TASK_QUEUE;
const world = new FakeWorld();
let client: Client;
let connection: Connection;
let workerConnection: NativeConnection;
const running: { worker: Worker; run: Promise<void> }[] = [];
let buildA: WorkflowBuild;
let buildB: WorkflowBuild;

async function runBuild(build: WorkflowBuild): Promise<void> {
  const worker = await Worker.create({
    connection: workerConnection,
    namespace: env.TEMPORAL_NAMESPACE,
    taskQueue,
    workflowBundle: { code: build.code },
    workerDeploymentOptions: deploymentOptions(env, build.buildId),
    activities: world.activities(),
    sinks: createSinks(),
  });
  running.push({ worker, run: worker.run() });
}

const makeCurrent = (build: WorkflowBuild) =>
  setCurrentBuild(connection, {
    namespace: env.TEMPORAL_NAMESPACE,
    version: deploymentVersion(env, build.buildId),
    identity: 'versioning-test',
  });

before(async () => {
  installQuietRuntime();
  ({ client, connection } = await connectTestClient());
  workerConnection = await NativeConnection.connect({ address: testTemporalAddress() });
  buildA = buildOf((await bundleWorkflowsOnce()).code);
  buildB = buildOf(await bundleReorderedBuild());
  await runBuild(buildA);
  await makeCurrent(buildA);
});

after(async () => {
  for (const { worker } of running) if (worker.getState() === 'RUNNING') worker.shutdown();
  await Promise.all(running.map(({ run }) => run.catch(() => undefined)));
  await workerConnection?.close();
  await connection?.close();
});

const builds = async (workflowId: string) => [
  ...new Set(
    (await history(client.workflow.getHandle(workflowId))).flatMap(
      (e) => e.workflowTaskCompletedEventAttributes?.deploymentVersion?.buildId ?? [],
    ),
  ),
];
const serviceDown = (description: string): AlertInstance => ({
  fingerprint: 'c1',
  status: 'firing',
  labels: { alertname: 'ServiceDown', pod: 'c1' },
  annotations: { description },
});

test('incidents pinned to build A finish on A (continue-as-new included) while new ones start on B', async () => {
  const gated: StartOptions = {
    runbook: 'p0-response',
    policy: fastPolicy({ p0RestartWithoutApproval: false, gateDeadlineMs: 60_000, gateEscalateAfterMs: 60_000 }),
  };
  const atGate = await startIncident(client, taskQueue, gated);
  const continuing = await startIncident(client, taskQueue, { runbook: 'p0-response', policy: fastPolicy() });
  await waitForRecord(atGate, gatePending('restart'));
  await waitForRecord(continuing, (r) => r.status === 'mitigated');
  const versionA = deploymentVersion(env, buildA.buildId);
  await countReaches(versionA, 2);

  await runBuild(buildB);
  await makeCurrent(buildB);

  // A's code goes on: B's would fail their replay at the reordered diagnostics.
  await atGate.executeUpdate(decideUpdate, { args: [{ gate: 'restart', decision: 'approve', actor: BOB }] });
  await waitForRecord(atGate, (r) => r.status === 'mitigated');
  await atGate.signal(resolveSignal, { actor: BOB });
  assert.equal((await atGate.result()).status, 'resolved');
  assert.deepEqual(await builds(atGate.workflowId), [buildA.buildId]);

  // Past the history budget in annotations the record does not keep: the incident continues as new, still on A.
  const bulky = serviceDown('x'.repeat(70_000));
  for (let i = 0; i < 70; i++) {
    await continuing.signal(alertSignal, {
      source: 'alertmanager',
      receiver: 'firebreak',
      groupKey: '{}:{alertname="ServiceDown"}',
      status: 'firing',
      truncatedAlerts: 0,
      alerts: [bulky],
      receivedAt: new Date().toISOString(),
    });
  }
  await waitForRecord(continuing, (r) => r.timeline.some((e) => /History is long/.test(e.message)), 60_000);
  await continuing.signal(resolveSignal, { actor: BOB });
  assert.equal((await continuing.result()).status, 'resolved');
  const [started] = await history(continuing);
  assert.ok(started?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId, 'a continued run finished it');
  assert.deepEqual(await builds(continuing.workflowId), [buildA.buildId], 'the continued run stayed on A');

  const fresh = await startIncident(client, taskQueue, gated);
  await waitForRecord(fresh, gatePending('restart'));
  const described = await fresh.describe();
  assert.equal(described.raw.workflowExecutionInfo?.versioningInfo?.deploymentVersion?.buildId, buildB.buildId);
  assert.equal(
    described.raw.workflowExecutionInfo?.versioningInfo?.behavior,
    proto.temporal.api.enums.v1.VersioningBehavior.VERSIONING_BEHAVIOR_PINNED,
  );
  await fresh.signal(resolveSignal, { actor: BOB });
  await fresh.result();
  await countReaches(versionA, 0);
});

/** Visibility lags the history a little: polls (bounded) until the build's open incidents number `wanted`. */
async function countReaches(version: ReturnType<typeof deploymentVersion>, wanted: number): Promise<void> {
  let count = -1;
  for (let i = 0; i < 100 && count !== wanted; i++) {
    count = await openIncidentsOn(client, version);
    if (count !== wanted) await new Promise((resolve) => setTimeout(resolve, 200));
  }
  assert.equal(count, wanted, `open incidents on build ${version.buildId}`);
}

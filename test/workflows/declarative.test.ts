/**
 * Runbook files on the real dev server with typed fake activities: seed 001's P0 script as a file
 * (gate, restart, a temporary scale-up restored at the end), the definition pinned at start (a
 * re-registered file changes nothing for a running incident), and branching with CEL, for-each,
 * PromQL thresholds, the diagnostic report, quorum gates and an `end: failed` that escalates.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { type Client, type Connection } from '@temporalio/client';
import { loadRunbookText } from '../../client/runbook-files';
import { decideUpdate, resolveSignal } from '../../domain/messages';
import { registerFileRunbooks } from '../../runbooks';
import { connectTestClient, runTestWorker, uniqueTaskQueue, type TestWorker } from '../bed/worker';
import { FakeWorld } from './fakes';
import {
  ALICE,
  BOB,
  CAROL,
  byIncident,
  fastPolicy,
  gatePending,
  resolveAndRestore,
  startIncident,
  timelineText,
  uniqueTarget,
  waitForRecord,
} from './harness';

const P0_FILE = fileURLToPath(new URL('../../runbooks/files/p0-incident-response.yaml', import.meta.url));

const BRANCHY = `
id: branchy
title: Branchy file runbook
targets: { min: 1, max: 3 }
params:
  limit: { type: number, default: 100 }
steps:
  - id: errors
    promql: { query: 'errors_total', above: params.limit, label: errors }
  - id: report
    report: {}
  - id: each
    forEach:
      over: targets
      steps:
        - id: bump
          setEnv:
            mode: mitigation
            env: { OTEL_BSP_MAX_QUEUE_SIZE: '4096', TARGET_NAME: '\${item.deployment}' }
  - id: decide
    gate:
      prompt: 'Errors at \${steps.errors.value}: which way?'
      choices: [page, finish]
      quorum: 2
      required: false
    next:
      - if: steps.decide.outcome == "approved" && steps.decide.choice == "page"
        goto: escalate
      - goto: finish
  - id: finish
    end: { status: mitigated, message: 'report \${steps.report.passed}/\${steps.report.total}' }
  - id: escalate
    end: { status: failed, message: 'errors \${steps.errors.outcome} in \${size(targets)} targets' }
`.replace('above: params.limit', 'above: 100');

let client: Client;
let connection: Connection;
let worker: TestWorker;
const world = new FakeWorld({ prometheus: true, promql: { errors_total: [20, 250] } });

function register(text: string, file: string) {
  const { loaded, issues } = loadRunbookText(text, file);
  assert.deepEqual(issues, []);
  registerFileRunbooks(loaded);
  return loaded[0]!;
}

before(async () => {
  ({ client, connection } = await connectTestClient());
  worker = await runTestWorker({ activities: world.activities(), taskQueue: uniqueTaskQueue('declarative') });
});

after(async () => {
  registerFileRunbooks([]);
  await worker?.stop();
  await connection?.close();
});

describe('runbook files', () => {
  test('seed 001 as a file: gate, restart, temporary scale-up restored; pinned against edits of the file', async () => {
    const text = await readFile(P0_FILE, 'utf8');
    const source = register(text, P0_FILE);
    const target = uniqueTarget('checkout');
    world.deployment(target.namespace, target.deployment).replicas = 2;
    const handle = await startIncident(client, worker.taskQueue, {
      runbook: 'p0-incident-response',
      targets: [target],
      params: { healthUrl: 'http://checkout.shop.svc:8080/health' },
      policy: fastPolicy({ gateDeadlineMs: 60_000, gateEscalateAfterMs: 60_000, restoreAfterMs: 60_000 }),
    });
    const waiting = await waitForRecord(handle, gatePending('approve-restart'));
    // The file changes while the incident waits at its gate: a new version is registered.
    register(text.replace('P0 INCIDENT:', 'EDITED:').replace('add: 1', 'add: 5'), P0_FILE);
    assert.match(
      timelineText(waiting),
      new RegExp(`P0 INCIDENT: ${target.deployment} is down — incident ${waiting.id}`),
    );
    assert.match(timelineText(waiting), new RegExp(`sha256 ${source.hash}`));
    assert.equal(world.made('rolloutRestart', byIncident(waiting.id)).length, 0, 'nothing changes before the gate');

    await handle.executeUpdate(decideUpdate, { args: [{ gate: 'approve-restart', decision: 'approve', actor: BOB }] });
    const mitigated = await waitForRecord(handle, (r) => r.status === 'mitigated');
    const text2 = timelineText(mitigated);
    assert.doesNotMatch(text2, /EDITED/);
    assert.match(text2, new RegExp(`RECOVERY: ${target.deployment} recovered`));
    assert.equal(world.made('rolloutRestart', byIncident(waiting.id)).length, 1);
    assert.deepEqual(
      world.made('scaleDeployment', byIncident(waiting.id)).map((call) => call.input.replicas),
      [3],
      'one extra replica, as the pinned file said (not the edited 5)',
    );
    assert.equal(mitigated.mitigations.length, 1);

    await resolveAndRestore(handle);
    const record = await handle.result();
    assert.equal(record.status, 'resolved');
    assert.ok(record.mitigations.every((m) => m.restoredAt));
    assert.equal(world.deployment(target.namespace, target.deployment).replicas, 2, 'the scale-up was restored');
  });

  test('CEL branching, for-each over targets, PromQL threshold, report, quorum gate, end: failed escalates', async () => {
    register(BRANCHY, '/runbooks/branchy.yaml');
    const targets = [uniqueTarget('cart'), uniqueTarget('cart')].map((t, i) => ({
      ...t,
      namespace: 'shop',
      deployment: `${t.deployment}${i}`,
    }));
    const handle = await startIncident(client, worker.taskQueue, {
      runbook: 'branchy',
      targets,
      policy: fastPolicy({ gateDeadlineMs: 60_000, gateEscalateAfterMs: 60_000, restoreAfterMs: 1_000 }),
    });
    const waiting = await waitForRecord(handle, gatePending('decide'));
    const gate = waiting.gates.find((g) => g.name === 'decide')!;
    assert.equal(gate.prompt, 'Errors at 250: which way?');
    assert.equal(gate.quorum, 2);
    const text = timelineText(waiting);
    assert.match(text, /errors = 250 \(above 100\)/);
    assert.match(text, /Diagnostic report: 0\/1 passed, 0 warnings, 1 failures/);
    for (const target of targets) {
      assert.equal(world.deployment(target.namespace, target.deployment).env.app?.TARGET_NAME, target.deployment);
    }
    await handle.executeUpdate(decideUpdate, {
      args: [{ gate: 'decide', decision: 'approve', choice: 'page', actor: BOB }],
    });
    const half = await waitForRecord(
      handle,
      (r) => (r.gates.find((g) => g.name === 'decide')?.approvals?.length ?? 0) === 1,
    );
    assert.equal(half.gates.find((g) => g.name === 'decide')?.status, 'pending', 'one approval of two');
    await handle.executeUpdate(decideUpdate, {
      args: [{ gate: 'decide', decision: 'approve', choice: 'page', actor: CAROL }],
    });
    const failed = await waitForRecord(handle, (r) => r.failure !== undefined);
    assert.match(failed.outcome ?? '', /errors above in 2 targets/);
    assert.ok(
      failed.timeline.some((e) => e.kind === 'escalation'),
      'end: failed pages the next tier',
    );
    assert.equal(failed.mitigations.length, 4, 'two variables on each of two targets');
    await handle.signal(resolveSignal, { actor: ALICE });
    const record = await handle.result();
    assert.ok(
      record.mitigations.every((m) => m.restoredAt),
      'restored after the restore deadline',
    );
  });
});

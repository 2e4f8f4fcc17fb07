/**
 * The incident metrics on /metrics as incidents move, on the real dev server with typed fake
 * activities and the production sinks (worker/sinks.ts) counting into an IngressMetrics: open
 * incidents counted in visibility by runbook and severity, the time to acknowledge, a gate's wait
 * and its escalation, mitigations pending restore rising and falling back to zero, and the close.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Client, type Connection } from '@temporalio/client';
import { acknowledgeUpdate, decideUpdate, resolveSignal } from '../domain/messages';
import { IngressMetrics } from '../ingress/metrics';
import { createSinks } from '../worker/sinks';
import { connectTestClient, runTestWorker, uniqueTaskQueue, type TestWorker } from './bed/worker';
import { FakeWorld } from './workflows/fakes';
import { BOB, fastPolicy, gatePending, startIncident, uniqueTarget, waitForRecord } from './workflows/harness';

let client: Client;
let connection: Connection;
let worker: TestWorker;
const world = new FakeWorld();
const metrics = new IngressMetrics();

before(async () => {
  ({ client, connection } = await connectTestClient());
  worker = await runTestWorker({
    activities: world.activities(),
    taskQueue: uniqueTaskQueue('metrics'),
    sinks: createSinks(metrics.accessRefusals, undefined, metrics),
  });
  // No cache: each scrape counts again, so the test sees the figure as the incident moves.
  metrics.countOpenIncidents((query) => client.workflow.count(query).then((r) => r.count), worker.taskQueue, 0);
});

after(async () => {
  await worker?.stop();
  await connection?.close();
});

/** One sample of the exposition: the metric with exactly these labels (in any order). */
async function sample(name: string, labels: Record<string, string>): Promise<number> {
  const text = await metrics.render();
  for (const line of text.split('\n')) {
    const match = /^([a-z_:]+)\{([^}]*)\} (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries([...match[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    const wanted = Object.entries(labels);
    if (wanted.length === Object.keys(found).length && wanted.every(([k, v]) => found[k] === v)) {
      return Number(match[3]);
    }
  }
  return 0;
}

async function eventuallyEquals(what: string, probe: () => Promise<number>, expected: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  let last = NaN;
  while (Date.now() < deadline) {
    last = await probe();
    if (last === expected) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  assert.fail(`${what}: ${last}, expected ${expected}`);
}

describe('incident metrics on /metrics', { concurrency: false }, () => {
  test('emergency-rollback: open → acknowledged → gate escalated then approved → resolved', async () => {
    const open = () => sample('firebreak_incidents_open', { runbook: 'emergency-rollback', severity: 'P1' });
    const escalated = () =>
      sample('firebreak_escalations_total', { channel: 'slack', runbook: 'emergency-rollback', severity: 'P1' });
    assert.equal(await open(), 0);
    const handle = await startIncident(client, worker.taskQueue, {
      runbook: 'emergency-rollback',
      targets: [uniqueTarget('payments')],
      severity: 'P1',
      params: { revision: '2', healthUrl: 'http://payments.shop.svc/health' },
      // The gate escalates after a second and stays decidable for a minute.
      policy: fastPolicy({ gateEscalateAfterMs: 1_000, gateDeadlineMs: 60_000 }),
    });
    await waitForRecord(handle, gatePending('confirm-rollback'));
    await eventuallyEquals('open emergency-rollback P1 incidents at the gate', open, 1);
    assert.equal(
      await sample('firebreak_incidents_open', { runbook: 'emergency-rollback', severity: 'P0' }),
      0,
      'other severities stay at zero',
    );

    await handle.executeUpdate(acknowledgeUpdate, { args: [{ actor: BOB, note: 'on it' }] });
    await eventuallyEquals(
      'acknowledgements observed',
      () => sample('firebreak_incident_acknowledge_seconds_count', { runbook: 'emergency-rollback', severity: 'P1' }),
      1,
    );

    await waitForRecord(handle, (r) => r.escalationTier >= 1);
    await eventuallyEquals('the gate escalation counted', escalated, 1);
    const gateLabels = { decision: 'approved', runbook: 'emergency-rollback' };
    assert.equal(await sample('firebreak_gate_wait_seconds_count', gateLabels), 0, 'no gate decided yet');
    await handle.executeUpdate(decideUpdate, { args: [{ gate: 'confirm-rollback', decision: 'approve', actor: BOB }] });
    await eventuallyEquals('approved gates observed', () => sample('firebreak_gate_wait_seconds_count', gateLabels), 1);
    const waited = await sample('firebreak_gate_wait_seconds_sum', gateLabels);
    assert.ok(waited >= 1, `the gate waited past its escalation (${waited} s)`);

    await waitForRecord(handle, (r) => r.status === 'mitigated');
    await handle.signal(resolveSignal, { actor: BOB });
    const final = await handle.result();
    assert.equal(final.status, 'resolved');
    const closed = { runbook: 'emergency-rollback', severity: 'P1', status: 'resolved' };
    await eventuallyEquals(
      'resolved incidents observed',
      () => sample('firebreak_incident_close_seconds_count', closed),
      1,
    );
    assert.ok((await sample('firebreak_incident_close_seconds_sum', closed)) >= waited);
    await eventuallyEquals('open emergency-rollback P1 incidents after the close', open, 0);
    const paged = final.timeline.filter((e) => e.kind === 'escalation' && e.data?.kind === 'slack').length;
    assert.ok(paged >= 1);
    assert.equal(await escalated(), paged, 'each Slack escalation on the timeline counted once');
    // A rollback holds no temporary mitigation.
    assert.equal(await sample('firebreak_mitigations_pending_restore', { runbook: 'emergency-rollback' }), 0);
  });

  test('avalanche-mitigation: mitigations pending restore rise, wait at the restore gate, and fall to zero', async () => {
    const pending = () => sample('firebreak_mitigations_pending_restore', { runbook: 'avalanche-mitigation' });
    assert.equal(await pending(), 0);
    const targets = [uniqueTarget('frontend'), uniqueTarget('cart')];
    const handle = await startIncident(client, worker.taskQueue, {
      runbook: 'avalanche-mitigation',
      targets,
      severity: 'P0',
      params: { replicas: '12' },
      policy: fastPolicy({ restoreAfterMs: 60_000 }),
    });
    const mitigated = await waitForRecord(handle, (r) => r.status === 'mitigated');
    // Sampler env, replicas and circuit breaker per deployment.
    assert.equal(mitigated.mitigations.length, 6);
    await eventuallyEquals('mitigations pending restore once mitigated', pending, 6);
    await eventuallyEquals(
      'open avalanche-mitigation P0 incidents',
      () => sample('firebreak_incidents_open', { runbook: 'avalanche-mitigation', severity: 'P0' }),
      1,
    );

    await handle.signal(resolveSignal, { actor: BOB });
    await waitForRecord(handle, gatePending('restore'));
    assert.equal(await pending(), 6, 'still in place while the restore gate waits');
    await handle.executeUpdate(decideUpdate, { args: [{ gate: 'restore', decision: 'approve', actor: BOB }] });
    await handle.result();
    await eventuallyEquals('mitigations pending restore after restoration', pending, 0);
    await eventuallyEquals(
      'restore gates observed',
      () => sample('firebreak_gate_wait_seconds_count', { decision: 'approved', runbook: 'avalanche-mitigation' }),
      1,
    );
    await eventuallyEquals(
      'resolved avalanche incidents observed',
      () =>
        sample('firebreak_incident_close_seconds_count', {
          runbook: 'avalanche-mitigation',
          severity: 'P0',
          status: 'resolved',
        }),
      1,
    );
    // Every runbook has its series, at zero when nothing is pending: a dashboard never sees gaps.
    for (const runbook of ['p0-response', 'emergency-rollback', 'oom-triage']) {
      assert.match(
        await metrics.render(),
        new RegExp(`firebreak_mitigations_pending_restore\\{runbook="${runbook}"\\} 0`),
      );
    }
  });
});

/**
 * The response plan after acknowledgement on the real dev server: a missed first-update deadline
 * posts a reminder mentioning the responder, then after the grace period pages the next tier; the
 * next deadline is on the record (what `firebreak status` shows). Progress in time (a decision,
 * mitigation) meets the deadlines: no reminder.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ResponseDeadlines } from '../../common/incident';
import { renderRecord } from '../../cli/format';
import { acknowledgeUpdate, decideUpdate, resolveSignal } from '../../domain/messages';
import { FakeWorld } from './fakes';
import { workerOnFakeWorld } from './file-worker';
import {
  BOB,
  fastPolicy,
  gatePending,
  sleep,
  startIncident,
  timelineText,
  uniqueTarget,
  waitForRecord,
} from './harness';

const world = new FakeWorld();
const bed = workerOnFakeWorld(world, 'response-plan');

const stage: ResponseDeadlines = { firstUpdateMs: 2_000, mitigateMs: 60_000, resolveMs: 90_000 };
// The rollback's confirm gate keeps the incident unmitigated; it must not escalate by itself here.
const policy = fastPolicy({
  gateEscalateAfterMs: 100_000,
  gateDeadlineMs: 110_000,
  responsePlan: { deadlines: { P0: stage, P1: stage, P2: stage, P3: stage }, graceMs: 2_000 },
});
const GATE = 'confirm-rollback';

describe('response plan', { concurrency: true }, () => {
  test('first update missed: reminder mentioning the responder, then the next tier is paged', async () => {
    const handle = await startIncident(bed.client, bed.taskQueue, {
      runbook: 'emergency-rollback',
      targets: [uniqueTarget('orders')],
      params: { revision: '2' },
      policy,
    });
    await waitForRecord(handle, gatePending(GATE));
    await handle.executeUpdate(acknowledgeUpdate, { args: [{ actor: BOB }] });
    const due = await waitForRecord(handle, (r) => r.nextDeadline?.stage === 'first update');
    assert.ok(Date.parse(due.nextDeadline!.at) - Date.parse(due.acknowledgedAt!) === stage.firstUpdateMs);
    assert.match(renderRecord(due, handle.workflowId), /next due: {3}first update by /);

    const reminded = await waitForRecord(handle, (r) =>
      /Response plan: the first update deadline passed — bob/.test(timelineText(r)),
    );
    assert.equal(reminded.escalationTier, 0, 'a reminder first, no page yet');
    const id = reminded.id;
    const mention = await waitFor(() =>
      world.calls.find(
        (c) => c.name === 'postEscalation' && c.input.incidentId === id && c.input.tier === 'response plan',
      ),
    );
    assert.deepEqual(mention.input.mentions, [BOB.id]);

    const paged = await waitForRecord(handle, (r) => r.escalationTier === 1, 10_000);
    assert.match(timelineText(paged), /ESCALATION \(on-call\): response plan: first update overdue/);
    assert.equal(paged.nextDeadline?.stage, 'mitigation');

    await handle.signal(resolveSignal, { actor: BOB });
    const closed = await handle.result();
    assert.equal(closed.status, 'resolved');
    assert.equal(closed.nextDeadline, undefined);
  });

  test('progress meets the deadlines: approved and mitigated in time → no reminder, next due is resolution', async () => {
    const handle = await startIncident(bed.client, bed.taskQueue, {
      runbook: 'emergency-rollback',
      targets: [uniqueTarget('billing')],
      params: { revision: '2' },
      policy,
    });
    await waitForRecord(handle, gatePending(GATE));
    await handle.executeUpdate(acknowledgeUpdate, { args: [{ actor: BOB }] });
    await handle.executeUpdate(decideUpdate, { args: [{ decision: 'approve', actor: BOB }] });
    await sleep(stage.firstUpdateMs + policy.responsePlan!.graceMs + 1_000);
    const record = await waitForRecord(handle, () => true);
    assert.equal(record.status, 'mitigated', 'still open, waiting for resolution');
    assert.doesNotMatch(timelineText(record), /Response plan/);
    assert.equal(record.escalationTier, 0);
    assert.equal(record.nextDeadline?.stage, 'resolution');
    await handle.signal(resolveSignal, { actor: BOB });
    assert.equal((await handle.result()).status, 'resolved');
  });
});

async function waitFor<T>(probe: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(100);
  }
}

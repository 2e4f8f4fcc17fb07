/**
 * Coalescing: the notifications of one group that arrive while a signal for it is in flight leave
 * as one signal, in arrival order, each request answered only once its notification is recorded —
 * and, through the real ingress and Temporal, every notification of a concurrent burst lands in its
 * incident exactly once.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { alertWorkflowId } from '../common/ids';
import type { AlertNotification } from '../domain/messages';
import { statusQuery } from '../domain/messages';
import { COALESCED_NOTIFICATIONS, KnownOpenGroups, SignalCoalescer } from '../ingress/alerts/coalesce';
import { SignalDelivery } from '../ingress/alerts/delivery';
import { HOLD_WORKFLOW_TYPE } from '../domain/hold';
import {
  alertmanagerPayload,
  eventually,
  oomAlert,
  oomRoutesYaml,
  postJson,
  signalEvents,
  startAlertRig,
  type AlertRig,
} from './alerts-support';

const TOKEN = 'coalesce-token';

function notification(n: number): AlertNotification {
  return {
    source: 'alertmanager',
    receiver: 'r',
    groupKey: 'g',
    status: 'firing',
    truncatedAlerts: 0,
    alerts: [],
    receivedAt: new Date(1_700_000_000_000 + n).toISOString(),
  };
}

describe('the coalescer (pure)', () => {
  test('one signal in flight per group; what queues meanwhile leaves as one, in order; each waits for its own', async () => {
    const coalescer = new SignalCoalescer();
    const sent: number[][] = [];
    const releases: (() => void)[] = [];
    const send = (signals: AlertNotification[]) => {
      sent.push(signals.map((s) => Date.parse(s.receivedAt) - 1_700_000_000_000));
      return new Promise<boolean>((resolve) => releases.push(() => resolve(true)));
    };
    const answered: number[] = [];
    const waits = [0, 1, 2, 3].map((n) =>
      coalescer.deliver('wf', [notification(n)], send).then(() => void answered.push(n)),
    );
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(sent, [[0]], 'the first leaves at once, alone');
    releases.shift()!();
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(answered, [0], 'the others wait for the signal that carries them');
    assert.deepEqual(sent, [[0], [1, 2, 3]], 'what queued meanwhile leaves as one signal, in arrival order');
    releases.shift()!();
    await Promise.all(waits);
    assert.deepEqual(answered, [0, 1, 2, 3]);
    assert.deepEqual(coalescer.stats, { signals: 2, notifications: 4 });
  });

  test('a failed signal fails every request it carried; no incident sends each down the start path', async () => {
    const coalescer = new SignalCoalescer();
    let calls = 0;
    const failing = async () => {
      calls += 1;
      if (calls === 1) return false;
      throw new Error('Temporal unreachable');
    };
    const results = await Promise.allSettled([0, 1, 2].map((n) => coalescer.deliver('wf', [notification(n)], failing)));
    assert.deepEqual(results[0], { status: 'fulfilled', value: false });
    assert.equal(results[1]!.status, 'rejected');
    assert.equal(results[2]!.status, 'rejected');
    assert.equal(calls, 2);
  });

  test('a batch holds at most COALESCED_NOTIFICATIONS notifications', async () => {
    const coalescer = new SignalCoalescer();
    const sizes: number[] = [];
    const send = async (signals: AlertNotification[]) => {
      sizes.push(signals.length);
      return true;
    };
    const total = 2 * COALESCED_NOTIFICATIONS + 3;
    await Promise.all(Array.from({ length: total }, (_, n) => coalescer.deliver('wf', [notification(n)], send)));
    assert.deepEqual(sizes, [1, COALESCED_NOTIFICATIONS, COALESCED_NOTIFICATIONS, 2]);
  });

  test('known-open groups are bounded, most recent kept', () => {
    const known = new KnownOpenGroups(2);
    known.add('a');
    known.add('b');
    known.add('a');
    known.add('c');
    assert.equal(known.has('b'), false, 'the least recently seen goes first');
    assert.equal(known.has('a') && known.has('c'), true);
  });
});

describe('a concurrent burst through the ingress', () => {
  let rig: AlertRig;
  const sink = `coalesce-${randomUUID().slice(0, 8)}`;
  before(async () => {
    rig = await startAlertRig({
      name: 'coalesce',
      configYaml: oomRoutesYaml(sink),
      env: { FIREBREAK_WEBHOOK_TOKEN: TOKEN },
    });
  });
  after(() => rig.close());

  test('every notification of a group lands in its incident exactly once, fewer signals than notifications', async () => {
    const groupKey = `{}:{alertname="ContainerOOMKilled", sink="${sink}"}`;
    const post = (i: number) =>
      postJson(
        `${rig.ingress.url}/webhooks/alertmanager`,
        JSON.stringify(
          alertmanagerPayload({
            receiver: 'firebreak',
            groupKey,
            alerts: [oomAlert(sink, `f${i % 7}`, { deployment: 'checkout', pod: `checkout-${i % 7}` })],
          }),
        ),
        { authorization: `Bearer ${TOKEN}` },
      );
    const first = await post(0);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const answers = await Promise.all(Array.from({ length: 60 }, (_, i) => post(i + 1)));
    assert.deepEqual(
      answers.map((a) => a.status),
      answers.map(() => 200),
    );
    const workflowId = alertWorkflowId('alertmanager', 'firebreak', groupKey);
    const handle = rig.client.workflow.getHandle(workflowId);
    // Every 2xx is recorded by Temporal when answered; a signal that arrived during a workflow task
    // shows in the history once that task completes. More than 61 would be a notification twice.
    const events = await eventually('every notification in the history', async () => {
      const found = await signalEvents(handle);
      return found.length >= 61 ? found : undefined;
    });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    assert.equal((await signalEvents(handle)).length, 61, 'each notification recorded exactly once');
    assert.ok(
      events.some((e) => e.coalesced),
      'notifications that arrived while a signal was in flight were coalesced',
    );
    const record = await eventually('all seven alerts folded', async () => {
      const r = await handle.query(statusQuery);
      return r.alerts.length === 7 ? r : undefined;
    });
    assert.equal(record.alerts.length, 7);
  });

  test('a running workflow whose build has no `alerts` handler gets one `alert` signal per notification', async () => {
    // The deployment hold stands in for an incident pinned to a build older than `alerts`: a running
    // workflow that answers no foldsAlertBatches query.
    const workflowId = `coalesce-older-build-${randomUUID().slice(0, 8)}`;
    const handle = await rig.client.workflow.start(HOLD_WORKFLOW_TYPE, {
      taskQueue: rig.taskQueue,
      workflowId,
      args: [{ target: { namespace: 'shop', deployment: `older-${sink}` } }],
    });
    try {
      const coalescer = new SignalCoalescer();
      const delivered = await Promise.all(
        Array.from({ length: 12 }, (_, n) =>
          new SignalDelivery(rig.client, workflowId, [notification(n)]).toRunningIncident(coalescer),
        ),
      );
      assert.deepEqual(
        delivered,
        delivered.map(() => true),
      );
      assert.ok(coalescer.stats.signals < coalescer.stats.notifications, 'notifications queued behind one another');
      // A signal that arrives during a workflow task shows in the history once that task completes.
      const events = await eventually('every notification in the history', async () => {
        const found = await signalEvents(handle);
        return found.length >= 12 ? found : undefined;
      });
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      assert.equal((await signalEvents(handle)).length, 12, 'each notification recorded exactly once');
      assert.equal(events.filter((e) => e.coalesced).length, 0, 'no `alerts` signal to a build that cannot fold it');
    } finally {
      await handle.terminate('test finished').catch(() => undefined);
    }
  });

  test('an incident of this build is asked once, waited for a moment, then in the background; then coalesced', async () => {
    const folding = new SignalCoalescer().folding;
    let asked = 0;
    let answer!: (folds: boolean | undefined) => void;
    const ask = () => {
      asked += 1;
      return new Promise<boolean | undefined>((resolve) => (answer = resolve));
    };
    assert.equal(await folding.folds('wf', ask), false, 'not answered within the wait: one signal each, for now');
    assert.equal(await folding.folds('wf', ask), false);
    assert.equal(asked, 1, 'one question in flight, however many batches');
    answer(true);
    await folding.settled('wf');
    assert.equal(await folding.folds('wf', ask), true);
    assert.equal(asked, 1, 'the answer is remembered');
    folding.forget('wf');
    assert.equal(await folding.folds('wf', async () => undefined), false, 'unanswered: one signal each, for now');
    await folding.settled('wf');
    assert.equal(await folding.folds('wf', async () => true), true, 'an unanswered question is asked again');
  });
});

/**
 * Liberal parsing: every shape Alertmanager's webhook has had, and hand-written senders, are
 * answered 2xx and reach the incident their group belongs to — what they left out derived the way
 * Alertmanager computes it, and the derivation carried to the incident in the signal.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { labelSetFingerprint, formatLabelSet } from '../ingress/alerts/labels';
import { toNotification } from '../ingress/alerts/normalise';
import { parsePayload } from '../ingress/alerts/schemas';
import { statusQuery, type AlertNotification } from '../domain/messages';
import { eventually, oomRoutesYaml, postJson, signalPayloads, startAlertRig, type AlertRig } from './alerts-support';
import {
  alertmanager015,
  alertmanager01Beta,
  alertmanager020,
  alertmanager03,
  handWritten,
  type FixtureAlert,
} from './fixtures/alert-payloads';

const TOKEN = 'payloads-token';
const STARTED = new Date(Date.now() - 3600_000).toISOString();
const ENDED = new Date(Date.now() - 600_000).toISOString();

function oomFixture(sink: string, deployment: string, pod: string, ended = false): FixtureAlert {
  return {
    labels: { alertname: 'ContainerOOMKilled', namespace: 'shop', deployment, pod, sink },
    annotations: { summary: `${pod} was OOM-killed` },
    startsAt: STARTED,
    ...(ended ? { endsAt: ENDED } : {}),
  };
}

describe('deriving what the sender left out (pure)', () => {
  const received = new Date();
  const normalise = (body: Record<string, unknown>) => {
    const parsed = parsePayload('alertmanager', body);
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.message);
    return toNotification('alertmanager', parsed.payload, received);
  };

  test('0.1.0 betas (version 2): fingerprints, statuses, receiver and group key, each named as derived', () => {
    const firing = oomFixture('s', 'a', 'a-1');
    const ended = oomFixture('s', 'a', 'a-2', true);
    const n = normalise(alertmanager01Beta([firing, ended]));
    assert.deepEqual(
      n.alerts.map((a) => [a.fingerprint, a.status]),
      [
        [labelSetFingerprint(firing.labels), 'firing'],
        [labelSetFingerprint(ended.labels), 'resolved'],
      ],
    );
    assert.equal(n.receiver, '(none)');
    assert.equal(
      n.groupKey,
      `{}:${formatLabelSet({ alertname: 'ContainerOOMKilled', namespace: 'shop', deployment: 'a', sink: 's' })}`,
    );
    assert.deepEqual(n.derived, [
      'fingerprint of 2 alert(s): from the label set, as Alertmanager computes it',
      'status of 2 alert(s): from endsAt and the group status',
      'receiver: none sent, "(none)" used',
      'groupKey: from receiver and the labels all alerts share',
    ]);
  });

  test('version 3 keeps its numeric group key; a resolved group resolves alerts whose endsAt is still ahead', () => {
    const n = normalise(alertmanager03([oomFixture('s', 'a', 'a-1')], 6428342934809234));
    assert.equal(n.groupKey, '6428342934809234');
    assert.ok(n.derived.includes('groupKey: a number (Alertmanager 0.1–0.5), kept as text'));
    const resolvedGroup = normalise({
      ...handWritten([{ ...oomFixture('s', 'a', 'a-1'), endsAt: new Date(Date.now() + 3600_000).toISOString() }]),
      status: 'resolved',
    });
    assert.equal(resolvedGroup.alerts[0]!.status, 'resolved', 'the group status wins over an endsAt to come');
    const ahead = new Date(Date.now() + 3600_000).toISOString();
    const stillFiring = normalise(handWritten([{ ...oomFixture('s', 'a', 'a-1'), endsAt: ahead }]));
    assert.equal(stillFiring.alerts[0]!.status, 'firing', "Alertmanager's Resolved(): endsAt not yet passed");
    assert.equal(stillFiring.status, 'firing');
  });

  test('hand-written: group key from the group labels when sent; numbers as label values; repeats folded', () => {
    const body = handWritten([oomFixture('s', 'a', 'a-1'), oomFixture('s', 'a', 'a-1', true)]);
    const withGroup = normalise({ ...body, groupLabels: { alertname: 'ContainerOOMKilled' }, receiver: 'web\\.hook' });
    assert.equal(withGroup.groupKey, '{}:{alertname="ContainerOOMKilled"}');
    assert.equal(withGroup.receiver, 'web.hook');
    assert.equal(withGroup.alerts.length, 1, 'one fingerprint');
    assert.equal(withGroup.alerts[0]!.status, 'resolved', 'the later copy');
    assert.ok(withGroup.derived.includes('1 repeated fingerprint(s): the later copy kept'));
    const numeric = normalise({ alerts: [{ labels: { alertname: 'X', replicas: 3, page: true, gone: null } }] });
    assert.deepEqual(numeric.alerts[0]!.labels, { alertname: 'X', replicas: '3', page: 'true' });
  });

  test('oversized identities are bounded, distinct ones stay distinct', () => {
    const long = (tail: string) => ({
      ...handWritten([oomFixture('s', 'a', 'a-1')]),
      groupKey: 'k'.repeat(5000) + tail,
    });
    const a = normalise(long('a'));
    const b = normalise(long('b'));
    assert.ok(a.groupKey.length <= 1024 && b.groupKey.length <= 1024);
    assert.notEqual(a.groupKey, b.groupKey);
    const hashed = normalise({ alerts: [{ labels: { alertname: 'X' }, fingerprint: 'f'.repeat(100_000) }] });
    assert.match(hashed.alerts[0]!.fingerprint, /^h:[0-9a-f]{16}$/);
  });
});

describe('old and hand-written payloads on a real Temporal', () => {
  let rig: AlertRig;
  const sink = `p-${randomUUID().slice(0, 8)}`;
  const auth = { authorization: `Bearer ${TOKEN}` };

  before(async () => {
    rig = await startAlertRig({
      name: 'alerts-payloads',
      configYaml: oomRoutesYaml(sink),
      env: { FIREBREAK_WEBHOOK_TOKEN: TOKEN },
    });
  });

  after(async () => {
    await rig?.close();
  });

  const post = async (body: Record<string, unknown>) => {
    const res = await postJson(`${rig.ingress.url}/webhooks/alertmanager`, body, auth);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  };

  /** Fires, then resolves, one alert in the given shape: one incident, which hears both. */
  async function firesThenResolves(
    shape: (alerts: FixtureAlert[]) => Record<string, unknown>,
    deployment: string,
    fingerprint?: string,
  ): Promise<{ handle: WorkflowHandle; signals: AlertNotification[]; answers: Record<string, unknown>[] }> {
    const pod = `${deployment}-7d9f8c6b5-x2b4q`;
    const first = await post(shape([oomFixture(sink, deployment, pod)]));
    assert.equal(first.outcome, 'accepted', JSON.stringify(first));
    const handle = rig.client.workflow.getHandle(String(first.workflowId));
    const record = await eventually('the alert firing', async () => {
      const r = await handle.query(statusQuery);
      return r.alerts.length === 1 ? r : undefined;
    });
    assert.equal(record.runbook, 'oom-triage');
    assert.deepEqual(record.target, { namespace: 'shop', deployment });
    const expected = fingerprint ?? labelSetFingerprint(oomFixture(sink, deployment, pod).labels);
    assert.equal(record.alerts[0]!.fingerprint, expected);

    const second = await post(shape([oomFixture(sink, deployment, pod, true)]));
    assert.equal(second.workflowId, first.workflowId, 'the same group, the same incident');
    assert.equal(second.outcome, 'signalled');
    await eventually('the resolution recorded', async () => {
      const r = await handle.query(statusQuery);
      return r.alerts.length === 1 && r.alerts[0]!.status === 'resolved' ? r : undefined;
    });
    return { handle, signals: await signalPayloads(handle), answers: [first, second] };
  }

  test('Alertmanager 0.1.0 beta (version 2, `alert` list, nothing but labels and times)', async () => {
    const { signals, answers } = await firesThenResolves(alertmanager01Beta, 'beta');
    assert.equal(signals.length, 2);
    for (const signal of signals) {
      assert.ok(signal.derived?.includes('receiver: none sent, "(none)" used'), JSON.stringify(signal.derived));
      assert.ok(signal.derived?.some((d) => d.startsWith('fingerprint of 1 alert(s)')));
    }
    assert.deepEqual(answers[0]!.derived, signals[0]!.derived, 'the sender is told too');
  });

  test('Alertmanager 0.1–0.5 (version 3, numeric groupKey)', async () => {
    const groupKey = Math.floor(Math.random() * 2 ** 52);
    const { signals } = await firesThenResolves((alerts) => alertmanager03(alerts, groupKey), 'v3');
    assert.ok(signals.every((s) => s.groupKey === String(groupKey)));
  });

  test('Alertmanager 0.6–0.18 (version 4, no fingerprint) and 0.19–0.20 (no truncatedAlerts)', async () => {
    const key = `{}:{alertname="ContainerOOMKilled", v="${randomUUID()}"}`;
    const old = await firesThenResolves((alerts) => alertmanager015(alerts, key), 'v015');
    assert.ok(old.signals.every((s) => s.groupKey === key && s.truncatedAlerts === 0));
    const key20 = `{}:{alertname="ContainerOOMKilled", v="${randomUUID()}"}`;
    const fingerprints = ['a1b2c3d4e5f60718'];
    const recent = await firesThenResolves(
      (alerts) => alertmanager020(alerts, key20, fingerprints),
      'v020',
      fingerprints[0],
    );
    assert.ok(recent.signals.every((s) => s.alerts[0]!.fingerprint === 'a1b2c3d4e5f60718' && !s.derived));
  });

  test('hand-written: only alerts, labels and times', async () => {
    const { signals } = await firesThenResolves(handWritten, 'curl');
    assert.ok(signals[0]!.derived?.includes('groupKey: from receiver and the labels all alerts share'));
    assert.ok(signals[1]!.derived?.includes('status of 1 alert(s): from endsAt and the group status'));
  });

  test('an empty alert list is answered 200 and starts nothing', async () => {
    const before = await rig.workflows();
    const answer = await post({ alerts: [] });
    assert.equal(answer.outcome, 'ignored');
    assert.equal(answer.reason, 'the notification holds no alerts');
    assert.deepEqual(await rig.workflows(), before);
  });
});

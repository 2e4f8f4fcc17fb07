/**
 * The incident's alert state and payload bounds, as pure functions: a group of any size or churn
 * folds into a record of bounded size with exact counts, and a record past the payload budget
 * shrinks, saying what it left out.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { IncidentRecord } from '../common/types';
import { ALERTS_KEPT_PER_STATUS, alertSummaryText, foldAlerts, groupResolved } from '../domain/alerts';
import type { AlertInstance, AlertNotification } from '../domain/messages';
import { fitEntry, fitRecord, jsonBytes, PAYLOAD_BUDGET_BYTES } from '../domain/payload';

function record(): IncidentRecord {
  return {
    id: 'INC-1',
    runbook: 'p0-response',
    title: 'P0',
    target: { namespace: 'shop', deployment: 'checkout' },
    targets: [],
    severity: 'P0',
    status: 'open',
    trigger: { kind: 'alert', source: 'alertmanager', receiver: 'r', groupKey: 'g' },
    openedAt: '2026-12-02T00:00:00.000Z',
    escalationTier: 0,
    gates: [],
    mitigations: [],
    alerts: [],
    alertsPartial: false,
    timeline: [],
  };
}

const alert = (fingerprint: string, status: 'firing' | 'resolved' = 'firing'): AlertInstance => ({
  fingerprint,
  status,
  labels: { alertname: 'KubePodCrashLooping', pod: `checkout-${fingerprint}` },
  annotations: {},
});

function counted(
  alerts: AlertInstance[],
  counts: AlertNotification['counts'],
  receivedAt: string,
  truncatedAlerts = 0,
): AlertNotification {
  return {
    source: 'alertmanager',
    receiver: 'r',
    groupKey: 'g',
    status: counts!.firing > 0 ? 'firing' : 'resolved',
    truncatedAlerts,
    counts,
    alerts,
    receivedAt,
  };
}

const at = (minute: number) => new Date(Date.UTC(2026, 11, 2, 0, minute)).toISOString();

describe('alert state', () => {
  test('a churning group: 50 notifications × 800 new fingerprints keep a bounded record with exact counts', () => {
    const r = record();
    for (let n = 0; n < 50; n++) {
      const alerts = Array.from({ length: 2 * ALERTS_KEPT_PER_STATUS }, (_, i) => alert(`n${n}-a${i}`));
      foldAlerts(r, counted(alerts, { firing: 800, resolved: 0, withheld: 0 }, at(n), 700), at(n));
    }
    assert.equal(r.alerts.length, ALERTS_KEPT_PER_STATUS);
    assert.ok(
      r.alerts.every((a) => a.fingerprint.startsWith('n49-')),
      'the most recently seen are kept',
    );
    assert.deepEqual(
      { firing: r.alertSummary!.firing, notifications: r.alertSummary!.notifications },
      { firing: 800, notifications: 50 },
    );
    assert.equal(r.alertSummary!.forgotten, 50 * 2 * ALERTS_KEPT_PER_STATUS - ALERTS_KEPT_PER_STATUS);
    assert.ok(jsonBytes(r) < 30_000, `record ${jsonBytes(r)} bytes`);
    assert.equal(groupResolved(r), false);
  });

  test('the parts of one notification count it once; a late older notification does not roll counts back', () => {
    const r = record();
    const parts = [1, 2].map((index) => ({
      ...counted([alert(`p${index}`)], { firing: 2, resolved: 0, withheld: 0 }, at(1)),
      part: { index, count: 2 },
    }));
    assert.deepEqual(
      parts.map((p) => foldAlerts(r, p, at(1))).map((f) => [f.newNotification, f.complete]),
      [
        [true, false],
        [false, true],
      ],
    );
    assert.equal(r.alertSummary!.notifications, 1);
    foldAlerts(r, counted([alert('p1', 'resolved')], { firing: 0, resolved: 2, withheld: 0 }, at(3)), at(3));
    assert.equal(groupResolved(r), true, 'a complete view with every alert resolved');
    foldAlerts(r, counted([alert('p1')], { firing: 2, resolved: 0, withheld: 0 }, at(2)), at(4));
    assert.equal(r.alertSummary!.firing, 0, 'the older notification is not the group state');
  });

  test('alerts the sender withheld keep the incident open, even in a "resolved" group', () => {
    const r = record();
    foldAlerts(r, counted([alert('w', 'resolved')], { firing: 0, resolved: 1, withheld: 3 }, at(1), 3), at(1));
    assert.equal(groupResolved(r), false);
    assert.match(alertSummaryText(r, { firing: 4, resolved: 0, withheld: 0, exact: true }), /3 withheld by the sender/);
  });

  test('signals without counts fold by fingerprint as before, bounded', () => {
    const r = record();
    const legacy = (alerts: AlertInstance[], truncatedAlerts = 0): AlertNotification => ({
      ...counted(alerts, { firing: 0, resolved: 0, withheld: 0 }, at(1), truncatedAlerts),
      counts: undefined,
    });
    foldAlerts(r, legacy([alert('a'), alert('b')]), at(1));
    foldAlerts(r, legacy([alert('a', 'resolved'), alert('b', 'resolved')], 2), at(2));
    assert.equal(groupResolved(r), false, 'partial');
    foldAlerts(r, legacy([alert('a', 'resolved'), alert('b', 'resolved')]), at(3));
    assert.equal(groupResolved(r), true);
    assert.equal(
      alertSummaryText(r, { firing: 2, resolved: 0, withheld: 0, exact: false }),
      'Alerts: 0 firing (was 2), 2 resolved (was 0) — 2 seen',
    );
  });
});

describe('payload bounds', () => {
  test('a record within the budget travels unchanged', () => {
    const r = record();
    assert.equal(fitRecord(r), r);
  });

  test('a record past the budget drops alert details, shortens texts, then the oldest entries, and says so', () => {
    const r = record();
    r.alerts = Array.from({ length: 100 }, (_, i) => ({
      fingerprint: `f${i}`,
      status: 'firing' as const,
      labels: { pod: 'x'.repeat(5_000) },
      firstSeen: at(0),
      lastSeen: at(0),
    }));
    r.timeline = Array.from({ length: 600 }, (_, i) => ({
      at: at(0),
      kind: 'note' as const,
      message: `entry ${i} ${'m'.repeat(3_000)}`,
      data: { blob: 'd'.repeat(3_000) },
    }));
    const fitted = fitRecord(r);
    assert.ok(jsonBytes(fitted) <= PAYLOAD_BUDGET_BYTES, `${jsonBytes(fitted)} bytes`);
    assert.deepEqual(fitted.alerts, []);
    assert.equal(fitted.alertsPartial, true);
    assert.match(fitted.timeline[0]!.message, /^\d+ earlier timeline entries left out/);
    assert.match(fitted.timeline.at(-1)!.message, /^entry 599 /, 'the newest entries stay');
    assert.equal(r.timeline.length, 600, 'the record itself is untouched');
    const huge = { at: at(0), kind: 'note' as const, message: 'm'.repeat(PAYLOAD_BUDGET_BYTES), data: {} };
    assert.ok(jsonBytes(fitEntry(huge)) < 4_096, 'an entry alone is measured too');
    assert.equal(fitEntry(r.timeline[0]!), r.timeline[0], 'and travels unchanged within the budget');
  });
});

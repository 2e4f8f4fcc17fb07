/**
 * The real path: amtool → Debian's Alertmanager 0.25 (grouping, repeats, resolution, http_config
 * credentials, max_alerts truncation) → the bed's relay → this file's ingress → Temporal → the real
 * oom-triage workflow on a worker with fake activities.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import type { IncidentRecord } from '../common/types';
import { labelSetFingerprint } from '../ingress/alerts/labels';
import { statusQuery } from '../domain/messages';
import { eventually, oomRoutesYaml, startAlertRig, type AlertRig } from './alerts-support';
import { amtoolAlert, BED_RECEIVERS, bedAlertmanager, registerSink, type BedAlertmanager } from './bed/alertmanager';

let rig: AlertRig;
let bed: BedAlertmanager;
let unregister: (() => Promise<void>) | undefined;
const sink = `am-${randomUUID().slice(0, 8)}`;
const fired: Record<string, string>[] = [];
const HOUR = 3600_000;

before(async () => {
  bed = bedAlertmanager();
  rig = await startAlertRig({
    name: 'alerts-am',
    configYaml: oomRoutesYaml(sink),
    env: { FIREBREAK_WEBHOOK_TOKEN: bed.token, FIREBREAK_WEBHOOK_BASIC_AUTH: bed.basicAuth },
  });
  unregister = await registerSink(bed, sink, `${rig.ingress.url}/webhooks/alertmanager`);
});

after(async () => {
  // Resolve what is still firing so the shared Alertmanager goes quiet, then tidy Temporal.
  for (const labels of fired) await amtoolAlert(bed, labels, { end: new Date() }).catch(() => undefined);
  await unregister?.();
  await rig?.close();
});

function oomLabels(pod: string, extra: Record<string, string> = {}): Record<string, string> {
  return { alertname: 'ContainerOOMKilled', namespace: 'shop', deployment: 'checkout', pod, sink, ...extra };
}

async function fire(labels: Record<string, string>, start = new Date()): Promise<void> {
  fired.push(labels);
  await amtoolAlert(bed, labels, {
    start,
    end: new Date(Date.now() + HOUR),
    annotations: { summary: `${labels.pod} was OOM-killed`, memory_limit: '3Gi' },
  });
}

async function resolve(labels: Record<string, string>, start: Date): Promise<void> {
  await amtoolAlert(bed, labels, { start, end: new Date() });
}

/**
 * Ends several alerts in one post to Alertmanager's API, as a Prometheus evaluation does: they
 * resolve together, so no group flush can fall between them.
 */
async function resolveTogether(alerts: Record<string, string>[], start: Date): Promise<void> {
  const endsAt = new Date().toISOString();
  const body = alerts.map((labels) => ({ labels, startsAt: start.toISOString(), endsAt }));
  const res = await fetch(`${bed.url}/api/v2/alerts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  assert.equal(res.status, 200, await res.text());
}

/** The one incident the group opened, once visibility shows it. */
async function onlyIncident(filter: (record: IncidentRecord) => boolean): Promise<WorkflowHandle> {
  return eventually(
    'the incident',
    async () => {
      for (const id of await rig.workflows()) {
        const handle = rig.client.workflow.getHandle(id);
        if (filter(await handle.query(statusQuery))) return handle;
      }
      return undefined;
    },
    30_000,
  );
}

const notificationsAccepted = async () => {
  const line = (await rig.ingress.metrics.render())
    .split('\n')
    .filter((l) =>
      /^firebreak_alert_notifications_total\{outcome="(accepted|signalled)",source="alertmanager"\}/.test(l),
    );
  return line.reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
};

test('amtool fires an OOM alert: one oom-triage incident; new alerts and repeats join it; resolution closes it', async () => {
  const start = new Date();
  await fire(oomLabels('checkout-1'), start);
  const handle = await onlyIncident((r) => r.trigger.kind === 'alert' && r.trigger.receiver === BED_RECEIVERS.bearer);
  assert.equal((await handle.describe()).type, 'oomTriageWorkflow');
  let record = await handle.query(statusQuery);
  assert.equal(record.runbook, 'oom-triage');
  assert.deepEqual(record.target, { namespace: 'shop', deployment: 'checkout' });
  assert.equal(record.trigger.kind === 'alert' && record.trigger.groupKey.includes(`sink="${sink}"`), true);
  // What the ingress derives for senders without fingerprints is what Alertmanager computes.
  assert.equal(record.alerts[0]!.fingerprint, labelSetFingerprint(oomLabels('checkout-1')));

  // A second alert in the same group (another pod): same incident, two fingerprints.
  await fire(oomLabels('checkout-2'), start);
  record = await eventually('the second alert', async () => {
    const r = await handle.query(statusQuery);
    return r.alerts.length === 2 ? r : undefined;
  });
  assert.ok(record.alerts.every((a) => a.status === 'firing'));
  const firstSeen = Math.max(...record.alerts.map((a) => Date.parse(a.lastSeen)));

  // Alertmanager repeats the unchanged group every repeat_interval: recorded, still one incident.
  const before = await notificationsAccepted();
  record = await eventually(
    'a repeat notification',
    async () => {
      const r = await handle.query(statusQuery);
      return (await notificationsAccepted()) > before && r.alerts.every((a) => Date.parse(a.lastSeen) > firstSeen)
        ? r
        : undefined;
    },
    20_000,
  );
  assert.equal(record.alerts.length, 2);
  assert.deepEqual(await rig.workflows(), [handle.workflowId]);

  // Resolving both: Alertmanager sends the resolution once; the incident records it and resolves.
  await resolve(oomLabels('checkout-1'), start);
  await resolve(oomLabels('checkout-2'), start);
  const result = (await handle.result()) as IncidentRecord;
  assert.equal(result.status, 'resolved');
  assert.ok(result.alerts.every((a) => a.status === 'resolved' && a.endsAt !== undefined));
  const messages = result.timeline.map((e) => e.message);
  // One summary per notification, not an entry per alert: the last says nothing fires.
  const summaries = result.timeline.filter((e) => e.kind === 'alert').map((e) => e.message);
  assert.match(summaries.at(-1) ?? '', /^Alerts: 0 firing \(was [12]\), [12] resolved/, summaries.join('\n'));
  assert.ok(messages.includes('Every alert of the incident resolved'));
  assert.match(result.outcome ?? '', /^Resolved: every alert of the incident resolved/);
  assert.deepEqual(await rig.workflows(), [handle.workflowId], 'never a second incident');
});

test("basic auth from Alertmanager's http_config is accepted on the same route", async () => {
  await fire(oomLabels('checkout-basic', { auth: 'basic' }));
  const handle = await onlyIncident((r) => r.trigger.kind === 'alert' && r.trigger.receiver === BED_RECEIVERS.basic);
  const record = await handle.query(statusQuery);
  assert.equal(record.alerts.length, 1);
  assert.equal(record.alerts[0]!.labels.pod, 'checkout-basic');
});

test('a max_alerts cap makes a partial view: its "all resolved" never resolves the incident', async () => {
  const start = new Date();
  const a = oomLabels('checkout-cap-a', { cap: '1' });
  const b = oomLabels('checkout-cap-b', { cap: '1' });
  await fire(a, start);
  await fire(b, start);
  const handle = await onlyIncident((r) => r.trigger.kind === 'alert' && r.trigger.receiver === BED_RECEIVERS.capped);
  const partial = await eventually('a truncated notification', async () => {
    const r = await handle.query(statusQuery);
    return r.alertsPartial ? r : undefined;
  });
  assert.equal(partial.alerts.length, 1, 'Alertmanager sent one of the two alerts');
  // Resolved one at a time, a flush could fall between them and its notification — the last alert
  // alone, untruncated — would be a complete view in which everything resolved.
  await resolveTogether([a, b], start);
  const seen = await eventually('the resolution in view', async () => {
    const r = await handle.query(statusQuery);
    return r.alerts.some((alert) => alert.status === 'resolved') ? r : undefined;
  });
  assert.equal(seen.alertsPartial, true);
  await new Promise((r) => setTimeout(r, 1_500));
  const after = await handle.query(statusQuery);
  assert.notEqual(after.status, 'resolved');
  assert.equal(after.closedAt, undefined);
});

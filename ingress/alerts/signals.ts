/**
 * What an incident hears of a notification, bounded whatever the sender sent. A notification can
 * be tens of megabytes (thousands of pods, each with every kube-state-metrics label); the incident
 * needs, per alert, only what folds its view: fingerprint, status, when, and a few labels that say
 * what and where. So each alert is cut down to that (labels from a fixed list plus the group's own
 * labels, each value truncated), and the alerts are packed into signals of at most
 * SIGNAL_BUDGET_BYTES of JSON. Every part is recorded in Temporal before the sender hears 2xx.
 *
 * Every alert of the notification is counted (`counts`: firing, resolved, and those the sender
 * withheld), so the incident knows the group's exact state whatever its size. Of the alerts
 * themselves, only what the incident keeps is carried: ALERTS_KEPT_PER_STATUS of each status
 * (domain/alerts.ts); the rest is counted in `truncatedAlerts`. Carrying more would only grow the
 * incident's history by up to the whole budget per notification, with nothing gained. The carried
 * alerts are chosen stably — firing first, then the earliest — so a group that grows keeps
 * showing the incident the same alerts.
 *
 * Parts are ordered the same way. Every part but the last says the view it carries is partial
 * (`truncatedAlerts` counts the alerts in the other parts too), so an incident never concludes
 * "all resolved" halfway through a notification; the last part carries the full view's count.
 */
import { ALERTS_KEPT_PER_STATUS } from '../../domain/alerts';
import type { AlertInstance, AlertNotification } from '../../domain/messages';
import type { ReceivedNotification } from './normalise';

export const SIGNAL_BUDGET_BYTES = 256 * 1024;
export const MAX_SIGNALS_PER_NOTIFICATION = 8;
export const MAX_LABEL_VALUE_CHARS = 256;
const MAX_LABEL_NAME_CHARS = 64;
const MAX_GROUP_LABELS_KEPT = 8;

/** Labels that say what fired and where: the kube-state-metrics and mixin vocabulary. */
export const KEPT_LABELS = [
  'alertname',
  'severity',
  'cluster',
  'namespace',
  'pod',
  'container',
  'deployment',
  'statefulset',
  'daemonset',
  'job_name',
  'node',
  'reason',
  'service',
] as const;
const KEPT_ANNOTATIONS = ['summary'] as const;

function truncate(value: string): string {
  return value.length <= MAX_LABEL_VALUE_CHARS ? value : `${value.slice(0, MAX_LABEL_VALUE_CHARS - 1)}…`;
}

function pick(source: Record<string, string>, names: readonly string[]): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const name of names) {
    const value = source[name];
    if (value !== undefined && name.length <= MAX_LABEL_NAME_CHARS) kept[name] = truncate(value);
  }
  return kept;
}

/** One alert as the incident records it. */
function compactAlert(alert: AlertInstance, groupLabelNames: readonly string[]): AlertInstance {
  return {
    fingerprint: alert.fingerprint,
    status: alert.status,
    labels: pick(alert.labels, [...KEPT_LABELS, ...groupLabelNames.slice(0, MAX_GROUP_LABELS_KEPT)]),
    annotations: pick(alert.annotations, KEPT_ANNOTATIONS),
    ...(alert.startsAt ? { startsAt: alert.startsAt } : {}),
    ...(alert.endsAt ? { endsAt: alert.endsAt } : {}),
  };
}

const jsonBytes = (value: unknown): number => Buffer.byteLength(JSON.stringify(value), 'utf8');

/** Alerts without a start sort after those with one; the fingerprint breaks ties, so the order is total. */
function firingThenEarliest(a: AlertInstance, b: AlertInstance): number {
  if (a.status !== b.status) return a.status === 'firing' ? -1 : 1;
  const start = (alert: AlertInstance) => (alert.startsAt ? Date.parse(alert.startsAt) : Number.MAX_SAFE_INTEGER);
  return start(a) - start(b) || (a.fingerprint < b.fingerprint ? -1 : a.fingerprint > b.fingerprint ? 1 : 0);
}

/** The signals for one notification, in delivery order; never empty, each under the budget. */
export function notificationSignals(
  notification: ReceivedNotification,
  budget = SIGNAL_BUDGET_BYTES,
): AlertNotification[] {
  const groupLabelNames = Object.keys(notification.groupLabels);
  const counts = { firing: 0, resolved: 0, withheld: notification.truncatedAlerts };
  for (const alert of notification.alerts) counts[alert.status] += 1;
  const carried = { firing: 0, resolved: 0 };
  const ordered = [...notification.alerts]
    .sort(firingThenEarliest)
    .filter((alert) => ++carried[alert.status] <= ALERTS_KEPT_PER_STATUS)
    .map((alert) => compactAlert(alert, groupLabelNames));

  const envelope = (alerts: AlertInstance[], truncatedAlerts: number, part?: AlertNotification['part']) => ({
    source: notification.source,
    receiver: notification.receiver,
    groupKey: notification.groupKey,
    status: notification.status,
    truncatedAlerts,
    counts,
    alerts,
    receivedAt: notification.receivedAt,
    ...(notification.derived.length > 0 ? { derived: notification.derived } : {}),
    ...(part ? { part } : {}),
  });
  // Room for the envelope with the largest numbers it can hold; alerts fill the rest.
  const widest = {
    firing: Number.MAX_SAFE_INTEGER,
    resolved: Number.MAX_SAFE_INTEGER,
    withheld: Number.MAX_SAFE_INTEGER,
  };
  const room =
    budget - jsonBytes({ ...envelope([], Number.MAX_SAFE_INTEGER, { index: 99, count: 99 }), counts: widest });

  const batches: AlertInstance[][] = [];
  let batch: AlertInstance[] = [];
  let used = 0;
  for (const alert of ordered) {
    const size = jsonBytes(alert) + 1;
    if (batch.length > 0 && used + size > room) {
      batches.push(batch);
      batch = [];
      used = 0;
      if (batches.length === MAX_SIGNALS_PER_NOTIFICATION) break;
    }
    batch.push(alert);
    used += size;
  }
  if (batches.length < MAX_SIGNALS_PER_NOTIFICATION) batches.push(batch);
  const sent = batches.reduce((n, b) => n + b.length, 0);

  const omitted = notification.alerts.length - sent;
  const count = batches.length;
  return batches.map((alerts, i) => {
    const last = i === count - 1;
    const elsewhere = sent - alerts.length;
    const truncated = last
      ? notification.truncatedAlerts + omitted
      : notification.truncatedAlerts + omitted + elsewhere;
    return envelope(alerts, truncated, count > 1 ? { index: i + 1, count } : undefined);
  });
}

/**
 * How an incident holds its alert group, bounded whatever the group does. A group can hold tens of
 * thousands of alerts and churn through new ones on every notification; the incident needs the
 * group's exact size per status (to say how bad it is and to know when every alert resolved) and a
 * few alerts to show. So it keeps:
 *
 * - `alertSummary`: the exact counts of the latest notification, which the ingress counted over
 *   the whole body before cutting it down. Alertmanager and Grafana send the group's complete
 *   current state in every notification, so the latest counts are the group's state;
 * - `alerts`: the most recently seen ALERTS_KEPT_PER_STATUS alerts of each status; older ones are
 *   let go and counted in `alertSummary.forgotten`.
 *
 * Signals sent before the ingress counted (no `counts`) fold as they always did: the view is the
 * kept alerts, partial when the signal said so.
 */
import type { AlertState, IncidentRecord } from '../common/types';
import type { AlertNotification } from './messages';

export const ALERTS_KEPT_PER_STATUS = 50;

export interface AlertCounts {
  firing: number;
  resolved: number;
  /** Alerts of the group whose status the incident does not know. */
  withheld: number;
  /** True when the counts are the whole group's, not the kept alerts'. */
  exact: boolean;
}

/** What one signal changed. */
export interface AlertFold {
  /** The first signal of a notification not heard before: the one that counts it. */
  newNotification: boolean;
  /** The last (or only) signal of its notification: the one after which the incident says what changed. */
  complete: boolean;
  /** Kept alerts that are new or changed status. */
  changed: AlertState[];
  /** Counts before this signal. */
  before: AlertCounts;
}

export function alertCounts(record: IncidentRecord): AlertCounts {
  const summary = record.alertSummary;
  if (summary) return { firing: summary.firing, resolved: summary.resolved, withheld: summary.withheld, exact: true };
  const firing = record.alerts.filter((a) => a.status === 'firing').length;
  return { firing, resolved: record.alerts.length - firing, withheld: 0, exact: false };
}

/**
 * Every alert of the group resolved, from a complete view: the only state in which alerts may close
 * an incident. Alertmanager computes the group status over the alerts it kept after `max_alerts`,
 * so with alerts withheld even a "resolved" group proves nothing.
 */
export function groupResolved(record: IncidentRecord): boolean {
  const summary = record.alertSummary;
  if (!summary) {
    return !record.alertsPartial && record.alerts.length > 0 && record.alerts.every((a) => a.status === 'resolved');
  }
  const known = summary.firing + summary.resolved + summary.withheld > 0;
  return known && summary.firing === 0 && summary.withheld === 0;
}

/** Folds one signal into the record; the record stays bounded whatever the signal carries. */
export function foldAlerts(record: IncidentRecord, notification: AlertNotification, now: string): AlertFold {
  const before = alertCounts(record);
  const changed = foldKept(record.alerts, notification, now);
  const forgotten = keepMostRecent(record);
  record.alertsPartial = notification.truncatedAlerts > 0;
  const summary = record.alertSummary;
  const part = notification.part ?? { index: 1, count: 1 };
  const complete = part.index === part.count;
  if (summary) summary.forgotten += forgotten;
  if (!notification.counts) return { newNotification: part.index === 1, complete, changed, before };
  // A notification older than the one counted (a sender's late retry) does not roll the counts back.
  if (summary && Date.parse(notification.receivedAt) < Date.parse(summary.receivedAt)) {
    return { newNotification: false, complete: false, changed, before };
  }
  const newNotification = !summary || summary.receivedAt !== notification.receivedAt;
  record.alertSummary = {
    ...notification.counts,
    groupStatus: notification.status,
    notifications: (summary?.notifications ?? 0) + (newNotification ? 1 : 0),
    receivedAt: notification.receivedAt,
    forgotten: summary?.forgotten ?? forgotten,
  };
  return { newNotification, complete, changed, before };
}

function foldKept(alerts: AlertState[], notification: AlertNotification, now: string): AlertState[] {
  const byFingerprint = new Map(alerts.map((state) => [state.fingerprint, state]));
  const changed: AlertState[] = [];
  for (const alert of notification.alerts) {
    const known = byFingerprint.get(alert.fingerprint);
    if (!known) {
      const state: AlertState = {
        fingerprint: alert.fingerprint,
        status: alert.status,
        labels: alert.labels,
        firstSeen: now,
        lastSeen: now,
        ...(alert.startsAt ? { startsAt: alert.startsAt } : {}),
        ...(alert.endsAt ? { endsAt: alert.endsAt } : {}),
      };
      alerts.push(state);
      byFingerprint.set(state.fingerprint, state);
      changed.push(state);
      continue;
    }
    const statusChanged = known.status !== alert.status;
    Object.assign(known, { status: alert.status, labels: alert.labels, lastSeen: now, endsAt: alert.endsAt });
    if (statusChanged) changed.push(known);
  }
  return changed;
}

/** Keeps the most recently seen alerts of each status (ties: the latest added); returns how many went. */
function keepMostRecent(record: IncidentRecord): number {
  const alerts = record.alerts;
  const firing = alerts.filter((a) => a.status === 'firing').length;
  if (firing <= ALERTS_KEPT_PER_STATUS && alerts.length - firing <= ALERTS_KEPT_PER_STATUS) return 0;
  const ranked = alerts.map((alert, index) => ({ alert, index }));
  ranked.sort(
    (a, b) =>
      (a.alert.lastSeen < b.alert.lastSeen ? 1 : a.alert.lastSeen > b.alert.lastSeen ? -1 : 0) || b.index - a.index,
  );
  const kept = new Set<AlertState>();
  const perStatus = { firing: 0, resolved: 0 };
  for (const { alert } of ranked) {
    if (perStatus[alert.status] >= ALERTS_KEPT_PER_STATUS) continue;
    perStatus[alert.status] += 1;
    kept.add(alert);
  }
  const remaining = alerts.filter((a) => kept.has(a));
  const gone = alerts.length - remaining.length;
  alerts.splice(0, alerts.length, ...remaining);
  return gone;
}

/** One line that says what the group is now and what changed since the last notification. */
export function alertSummaryText(record: IncidentRecord, before: AlertCounts): string {
  const now = alertCounts(record);
  const total = now.firing + now.resolved + (now.exact ? now.withheld : 0);
  const delta = (after: number, was: number) => (after === was ? '' : ` (was ${thousands(was)})`);
  const parts = [
    `${thousands(now.firing)} firing${delta(now.firing, before.firing)}`,
    `${thousands(now.resolved)} resolved${delta(now.resolved, before.resolved)}`,
  ];
  if (now.exact && now.withheld > 0) parts.push(`${thousands(now.withheld)} withheld by the sender`);
  const scope = now.exact
    ? `${thousands(total)} in the group`
    : `${thousands(total)} seen${record.alertsPartial ? ', a partial view' : ''}`;
  return `Alerts: ${parts.join(', ')} — ${scope}`;
}

/** 12,345: locale-free, so workflow code renders the same everywhere. */
function thousands(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

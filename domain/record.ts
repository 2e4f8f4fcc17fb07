/**
 * How an incident record's state evolves apart from its gates and mitigations: when it is closed,
 * and how alert notifications fold into its per-fingerprint view.
 */
import { CLOSED_STATUSES } from '../common/types';
import type { AlertState, IncidentRecord } from '../common/types';
import type { AlertNotification } from './messages';

export function isClosed(record: IncidentRecord): boolean {
  return CLOSED_STATUSES.includes(record.status);
}

/** Folds a notification into per-fingerprint state; returns the fingerprints whose status changed. */
export function mergeAlerts(alerts: AlertState[], notification: AlertNotification, now: string): AlertState[] {
  const changed: AlertState[] = [];
  for (const alert of notification.alerts) {
    const known = alerts.find((state) => state.fingerprint === alert.fingerprint);
    if (!known) {
      const state: AlertState = {
        fingerprint: alert.fingerprint,
        status: alert.status,
        labels: alert.labels,
        firstSeen: now,
        lastSeen: now,
        startsAt: alert.startsAt,
        endsAt: alert.endsAt,
      };
      alerts.push(state);
      changed.push(state);
      continue;
    }
    const statusChanged = known.status !== alert.status;
    Object.assign(known, { status: alert.status, labels: alert.labels, lastSeen: now, endsAt: alert.endsAt });
    if (statusChanged) changed.push(known);
  }
  return changed;
}

/** All known alerts resolved, from a complete view: the only state in which alerts may close an incident. */
export function alertsAllResolved(record: IncidentRecord): boolean {
  return !record.alertsPartial && record.alerts.length > 0 && record.alerts.every((a) => a.status === 'resolved');
}

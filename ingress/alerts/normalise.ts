/**
 * A parsed payload becomes one complete notification: what the sender left out is derived the way
 * Alertmanager computes it, and each derivation is named in `derived` so the incident (and the
 * sender, in the answer) can see which facts are Firebreak's inference rather than the sender's.
 *
 *   fingerprint   the alert's label set hashed as Alertmanager does (labels.ts)
 *   alert status  resolved when `endsAt` has passed (Alertmanager's Alert.Resolved()) or the whole
 *                 group says resolved; firing otherwise
 *   group status  firing when any alert fires, as Alertmanager's template data computes it
 *   groupKey      `{}:<group labels>` — Alertmanager's `<route key>:<group labels>` for the root
 *                 route — from `groupLabels`, else from the labels every alert shares
 *   receiver      "(none)" for the 0.1.0 betas, which did not send one
 *
 * The group's identity (receiver, groupKey) is bounded here, once, so the workflow id, the
 * incident's trigger and every signal agree on it whatever length the sender chose.
 */
import { fnv1a64 } from '../../common/ids';
import type { AlertInstance } from '../../domain/messages';
import { commonLabelsOf, formatLabelSet, labelSetFingerprint } from './labels';
import type { AlertSource, PayloadAlert, WebhookPayload } from './schemas';

export interface ReceivedNotification {
  source: AlertSource;
  receiver: string;
  groupKey: string;
  status: 'firing' | 'resolved';
  truncatedAlerts: number;
  /** Every alert with all its labels and annotations: routing reads them; the incident gets less. */
  alerts: AlertInstance[];
  groupLabels: Record<string, string>;
  receivedAt: string;
  derived: string[];
}

export const MAX_GROUP_KEY_CHARS = 1024;
export const MAX_RECEIVER_CHARS = 256;
/** Alertmanager's and Grafana's fingerprints are 16 hex digits; anything this long is hashed. */
export const MAX_FINGERPRINT_CHARS = 64;
const NO_RECEIVER = '(none)';

/** Long text keeps a readable head and a hash of the whole, so distinct values stay distinct. */
function boundedIdentity(text: string, max: number): string {
  if (text.length <= max) return text;
  const hash = fnv1a64(text);
  return `${text.slice(0, max - hash.length - 2)}…#${hash}`;
}

/**
 * Alertmanager versions have sent the receiver name regex-escaped (`web\.hook`); unescaping makes
 * both spellings one workflow id, so an upgrade never opens a second incident for the same group.
 */
export function normaliseReceiver(receiver: string): string {
  return receiver.replace(/\\(.)/g, '$1');
}

export function toNotification(source: AlertSource, payload: WebhookPayload, receivedAt: Date): ReceivedNotification {
  const derived: string[] = [];
  const now = receivedAt.getTime();
  const sent = payload.alerts ?? payload.alert ?? [];
  const counts = { fingerprint: 0, hashed: 0, status: 0, repeated: 0 };

  const groupSaysResolved = payload.status === 'resolved';
  const byFingerprint = new Map<string, AlertInstance>();
  for (const alert of sent) {
    const instance = toAlertInstance(alert, groupSaysResolved, now, counts);
    if (byFingerprint.has(instance.fingerprint)) counts.repeated += 1;
    // A repeated alert keeps its place and takes the later copy's state.
    byFingerprint.set(instance.fingerprint, instance);
  }
  const alerts = [...byFingerprint.values()];
  if (counts.fingerprint > 0) {
    derived.push(`fingerprint of ${counts.fingerprint} alert(s): from the label set, as Alertmanager computes it`);
  }
  if (counts.hashed > 0) {
    derived.push(`fingerprint of ${counts.hashed} alert(s): longer than ${MAX_FINGERPRINT_CHARS} characters, hashed`);
  }
  if (counts.status > 0) {
    derived.push(`status of ${counts.status} alert(s): from endsAt and the group status`);
  }
  if (counts.repeated > 0) derived.push(`${counts.repeated} repeated fingerprint(s): the later copy kept`);

  let status = payload.status ?? undefined;
  if (!status) {
    status = alerts.some((alert) => alert.status === 'firing') ? 'firing' : 'resolved';
    derived.push('group status: from the alerts');
  }

  let receiver = payload.receiver ?? undefined;
  if (receiver === undefined) {
    receiver = NO_RECEIVER;
    derived.push(`receiver: none sent, "${NO_RECEIVER}" used`);
  }

  const groupLabels = payload.groupLabels;
  let groupKey: string;
  if (typeof payload.groupKey === 'string' && payload.groupKey !== '') {
    groupKey = payload.groupKey;
  } else if (typeof payload.groupKey === 'number') {
    groupKey = String(payload.groupKey);
    derived.push('groupKey: a number (Alertmanager 0.1–0.5), kept as text');
  } else if (Object.keys(groupLabels).length > 0) {
    groupKey = `{}:${formatLabelSet(groupLabels)}`;
    derived.push('groupKey: from receiver and groupLabels');
  } else {
    const common =
      Object.keys(payload.commonLabels).length > 0
        ? payload.commonLabels
        : commonLabelsOf(alerts.map((alert) => alert.labels));
    groupKey = `{}:${formatLabelSet(common)}`;
    derived.push('groupKey: from receiver and the labels all alerts share');
  }

  return {
    source,
    receiver: boundedIdentity(normaliseReceiver(receiver), MAX_RECEIVER_CHARS),
    groupKey: boundedIdentity(groupKey, MAX_GROUP_KEY_CHARS),
    status,
    truncatedAlerts: payload.truncatedAlerts ?? 0,
    alerts,
    groupLabels,
    receivedAt: receivedAt.toISOString(),
    derived,
  };
}

function toAlertInstance(
  alert: PayloadAlert,
  groupSaysResolved: boolean,
  now: number,
  counts: { fingerprint: number; hashed: number; status: number },
): AlertInstance {
  let fingerprint = alert.fingerprint ?? '';
  if (fingerprint === '') {
    fingerprint = labelSetFingerprint(alert.labels);
    counts.fingerprint += 1;
  } else if (fingerprint.length > MAX_FINGERPRINT_CHARS) {
    fingerprint = `h:${fnv1a64(fingerprint)}`;
    counts.hashed += 1;
  }
  let status = alert.status;
  if (!status) {
    const ended = alert.endsAt !== undefined && Date.parse(alert.endsAt) <= now;
    status = ended || groupSaysResolved ? 'resolved' : 'firing';
    counts.status += 1;
  }
  return {
    fingerprint,
    status,
    labels: alert.labels,
    annotations: alert.annotations,
    ...(alert.startsAt ? { startsAt: alert.startsAt } : {}),
    ...(alert.endsAt ? { endsAt: alert.endsAt } : {}),
  };
}

/** The earliest `startsAt` of the group's alerts: when the trouble was first seen, for MTTA/MTTR. */
export function earliestStart(alerts: AlertInstance[]): string | undefined {
  let earliest: string | undefined;
  for (const alert of alerts) {
    if (alert.startsAt && (earliest === undefined || Date.parse(alert.startsAt) < Date.parse(earliest))) {
      earliest = alert.startsAt;
    }
  }
  return earliest;
}

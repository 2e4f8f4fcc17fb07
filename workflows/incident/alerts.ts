/**
 * The incident's alert group: each `alert` signal folds into bounded state (domain/alerts.ts), and
 * each notification becomes one timeline entry that replaces the previous one while nothing else
 * happened in between, and one thread summary the courier rate-limits. A group of any size or
 * churn therefore costs the incident a bounded record, a bounded history per notification, and a
 * bounded number of Slack calls. It also says loudly when this run takes up a group whose previous
 * run died without closing.
 */
import { log, patched } from '@temporalio/workflow';
import type { IncidentRecord, TimelineEntry } from '../../common/types';
import { alertSummaryText, foldAlerts } from '../../domain/alerts';
import type { AlertNotification } from '../../domain/messages';
import { ALERTS_SUMMARISED } from './patches';
import { now, type IncidentState } from './state';

export function receiveAlerts<P>(state: IncidentState<P>, notification: AlertNotification): void {
  receiveAlertBatch(state, [notification]);
}

/**
 * A coalesced batch (the `alerts` signal) folds every notification in order. Each complete one's
 * summary entry replaces the previous one, so only the batch's last is kept, logged and handed to
 * the courier: the same record and timeline as folding them one signal at a time, one log line.
 */
export function receiveAlertBatch<P>(state: IncidentState<P>, notifications: AlertNotification[]): void {
  const record = state.record;
  let latest: TimelineEntry | undefined;
  for (const notification of notifications) {
    const fold = foldAlerts(record, notification, now());
    if (!patched(ALERTS_SUMMARISED)) {
      // Incidents begun before summaries posted one thread entry per changed alert: they replay so.
      for (const alert of fold.changed) {
        const name = alert.labels.alertname ?? alert.fingerprint;
        state.note('alert', `Alert ${name} ${alert.status}`, { fingerprint: alert.fingerprint, status: alert.status });
      }
      continue;
    }
    if (fold.complete) latest = summaryEntry(record, fold, notification);
  }
  if (!latest) return;
  // A long quiet stretch of notifications is one entry: the history holds every signal.
  const timeline = record.timeline;
  if (timeline.at(-1)?.kind === 'alert') timeline[timeline.length - 1] = latest;
  else timeline.push(latest);
  log.info(latest.message, { incidentId: record.id, kind: 'alert' });
  state.slack.postAlertSummary(latest);
}

function summaryEntry(
  record: IncidentRecord,
  fold: ReturnType<typeof foldAlerts>,
  notification: AlertNotification,
): TimelineEntry {
  const summary = record.alertSummary;
  return {
    at: now(),
    kind: 'alert',
    message: alertSummaryText(record, fold.before),
    data: {
      firing: summary?.firing ?? record.alerts.filter((a) => a.status === 'firing').length,
      resolved: summary?.resolved ?? record.alerts.filter((a) => a.status === 'resolved').length,
      ...(summary ? { withheld: summary.withheld, notifications: summary.notifications } : {}),
      changedKept: fold.changed.length,
      ...(notification.derived ? { derived: notification.derived } : {}),
    },
  };
}

/** A run that takes up a group whose previous run died unclosed says so where people look. */
export function notePreviousRun<P>(state: IncidentState<P>): void {
  const previous = state.input.previousRun;
  if (!previous) return;
  state.note(
    'failure',
    `This alert group's previous run ${previous.runId} (${previous.incidentId ?? previous.workflowId}) ended ` +
      `${previous.status}${previous.closedAt ? ` at ${previous.closedAt}` : ''} without closing: whatever it changed ` +
      `may still be in place and nothing restores it. Read it with \`firebreak postmortem ${previous.workflowId} ` +
      `--run-id ${previous.runId}\`; this run takes the group up again.`,
    { previousRun: previous },
  );
}

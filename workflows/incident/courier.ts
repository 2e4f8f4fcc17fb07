/**
 * The Slack courier: one loop per incident that keeps the card current and posts the thread in
 * order. The rest of the kernel only queues items and marks the card changed, so remediation never
 * waits on Slack and a slow or failing Slack never reorders the thread.
 */
import { condition, log, patched } from '@temporalio/workflow';
import type { EvidenceRef } from '../../activities/evidence';
import type { SlackMessageRef } from '../../activities/slack';
import type { IncidentRecord, TimelineEntry } from '../../common/types';
import { fitEntry, fitRecord } from '../../domain/payload';
import { evidence, slack } from './proxies';
import { failureMessage } from './failures';
import { APPROVAL_REQUEST_ALWAYS_POSTED } from './patches';

export type SlackItem =
  | { kind: 'entry'; entry: TimelineEntry }
  | { kind: 'approval'; gate: string }
  | { kind: 'approval-closed'; gate: string }
  | { kind: 'escalation'; tier: string; mentions: string[]; text: string }
  | { kind: 'evidence'; artefact: EvidenceRef; comment: string };

const CARD_TIMELINE_ENTRIES = 5;
/**
 * A courier held back after the card until the runbook acts (first change, gate, hold wait, end)
 * posts the thread anyway after this long: a slow diagnostic must not keep the timeline back.
 */
export const COURIER_GRACE_MS = 2_000;
/** Alert summaries reach the thread at most this often; a newer one replaces one still waiting. */
export const ALERT_SUMMARY_INTERVAL_MS = 60_000;

/** What the card shows and nothing more: the alert counts, not the alerts; the latest entries. */
export function cardView(record: IncidentRecord): IncidentRecord {
  return fitRecord({
    ...record,
    alerts: record.alertSummary ? [] : record.alerts,
    timeline: record.timeline.slice(-CARD_TIMELINE_ENTRIES),
  });
}

export class SlackCourier {
  private readonly outbox: SlackItem[] = [];
  private cardDirty = true;
  private closing = false;
  /** True once the loop has delivered everything queued before close(). */
  done = false;
  private readonly approvalMessages = new Map<string, SlackMessageRef>();
  private alertSummary?: TimelineEntry;
  private alertSummaryPostedAt = Number.NEGATIVE_INFINITY;
  /** Set by holdBack(): the loop waits for go() (or the grace period) before its first delivery. */
  private held = false;

  constructor(
    private readonly record: IncidentRecord,
    private readonly channel: string | undefined,
  ) {}

  post(item: SlackItem): void {
    this.outbox.push(item);
  }

  /** The group's latest state for the thread (and the card), sent at most once per ALERT_SUMMARY_INTERVAL_MS. */
  postAlertSummary(entry: TimelineEntry): void {
    this.alertSummary = entry;
  }

  cardChanged(): void {
    this.cardDirty = true;
  }

  /**
   * Posts the card, then keeps the thread back until go(): the timeline's posts (an activity and a
   * workflow task each) then do not stand between the trigger and the first action. Called before run().
   */
  holdBack(): void {
    this.held = true;
  }

  /** The runbook acts (or is done): the courier may deliver. */
  go(): void {
    this.held = false;
  }

  /** The loop ends once the outbox is empty after this. */
  close(): void {
    this.closing = true;
  }

  /** One courier, so the card comes first, the thread stays in order and remediation never waits on Slack. */
  async run(): Promise<void> {
    if (this.held) {
      // The card goes at once (it is what the channel sees); the thread's entries wait for the first action.
      this.cardDirty = false;
      await this.publishCard();
      await condition(() => !this.held || this.closing, COURIER_GRACE_MS);
      this.held = false;
    }
    // Ends when the incident closes; the workflow's own waits carry the deadlines.
    for (;;) {
      const summaryDue = () =>
        this.alertSummary !== undefined &&
        (this.closing || Date.now() - this.alertSummaryPostedAt >= ALERT_SUMMARY_INTERVAL_MS);
      const wake = () => this.outbox.length > 0 || this.cardDirty || this.closing || summaryDue();
      if (this.alertSummary && !wake()) {
        await condition(wake, Math.max(1, this.alertSummaryPostedAt + ALERT_SUMMARY_INTERVAL_MS - Date.now()));
      } else {
        await condition(wake);
      }
      if (this.cardDirty) {
        this.cardDirty = false;
        await this.publishCard();
        continue;
      }
      const summary = summaryDue() ? this.alertSummary : undefined;
      if (summary) {
        this.alertSummary = undefined;
        this.alertSummaryPostedAt = Date.now();
        // The card shows the counts the summary speaks of; once closing, whoever closes refreshes it.
        if (!this.closing) this.cardDirty = true;
      }
      const item: SlackItem | undefined = summary ? { kind: 'entry', entry: summary } : this.outbox.shift();
      if (!item) {
        if (this.alertSummary) continue;
        break;
      }
      await this.deliver(item).catch((err: unknown) =>
        log.warn('Slack delivery failed', { incidentId: this.record.id, item: item.kind, error: failureMessage(err) }),
      );
    }
    this.done = true;
  }

  private async publishCard(): Promise<void> {
    try {
      this.record.slack = await slack.publishIncidentCard({
        incident: cardView(this.record),
        ref: this.record.slack,
        ...(this.channel ? { channel: this.channel } : {}),
      });
    } catch (err) {
      log.warn('Publishing the incident card failed', { incidentId: this.record.id, error: failureMessage(err) });
    }
  }

  private async deliver(item: SlackItem): Promise<void> {
    const ref = this.record.slack;
    const incidentId = this.record.id;
    if (item.kind === 'entry') {
      await slack.postTimelineEntry({ incidentId, ref, entry: fitEntry(item.entry) });
    } else if (item.kind === 'evidence') {
      await evidence.shareEvidence({ incidentId, ref, artefact: item.artefact, comment: item.comment });
    } else if (item.kind === 'escalation') {
      await slack.postEscalation({ incidentId, ref, tier: item.tier, mentions: item.mentions, text: item.text });
    } else {
      const gate = this.record.gates.find((g) => g.name === item.gate);
      if (!gate) return;
      if (item.kind === 'approval') {
        // A gate decided before the courier got here (a CLI decision while the engine restarted) still
        // gets its request in the thread, showing the outcome, so the timeline loses no entry.
        if (gate.status !== 'pending' && !patched(APPROVAL_REQUEST_ALWAYS_POSTED)) return;
        const request = await slack.postApprovalRequest({ incidentId, ref, gate });
        if (request) this.approvalMessages.set(gate.name, request);
      } else if (this.approvalMessages.has(gate.name)) {
        await slack.closeApprovalRequest({ incidentId, request: this.approvalMessages.get(gate.name), gate });
      }
    }
  }
}

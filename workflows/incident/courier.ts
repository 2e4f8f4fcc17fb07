/**
 * The Slack courier: one loop per incident that keeps the card current and posts the thread in
 * order. The rest of the kernel only queues items and marks the card changed, so remediation never
 * waits on Slack and a slow or failing Slack never reorders the thread.
 */
import { condition, log } from '@temporalio/workflow';
import type { SlackMessageRef } from '../../activities/slack';
import type { IncidentRecord, TimelineEntry } from '../../common/types';
import { slack } from './proxies';
import { failureMessage } from './failures';

export type SlackItem =
  | { kind: 'entry'; entry: TimelineEntry }
  | { kind: 'approval'; gate: string }
  | { kind: 'approval-closed'; gate: string }
  | { kind: 'escalation'; tier: string; mentions: string[]; text: string };

const CARD_TIMELINE_ENTRIES = 5;

export class SlackCourier {
  private readonly outbox: SlackItem[] = [];
  private cardDirty = true;
  private closing = false;
  /** True once the loop has delivered everything queued before close(). */
  done = false;
  private readonly approvalMessages = new Map<string, SlackMessageRef>();

  constructor(
    private readonly record: IncidentRecord,
    private readonly channel: string | undefined,
  ) {}

  post(item: SlackItem): void {
    this.outbox.push(item);
  }

  cardChanged(): void {
    this.cardDirty = true;
  }

  /** The loop ends once the outbox is empty after this. */
  close(): void {
    this.closing = true;
  }

  /** One courier, so the card comes first, the thread stays in order and remediation never waits on Slack. */
  async run(): Promise<void> {
    // Ends when the incident closes; the workflow's own waits carry the deadlines.
    for (;;) {
      await condition(() => this.outbox.length > 0 || this.cardDirty || this.closing);
      if (this.cardDirty) {
        this.cardDirty = false;
        await this.publishCard();
        continue;
      }
      const item = this.outbox.shift();
      if (!item) break;
      await this.deliver(item).catch((err: unknown) =>
        log.warn('Slack delivery failed', { incidentId: this.record.id, item: item.kind, error: failureMessage(err) }),
      );
    }
    this.done = true;
  }

  private async publishCard(): Promise<void> {
    try {
      const card = { ...this.record, timeline: this.record.timeline.slice(-CARD_TIMELINE_ENTRIES) };
      this.record.slack = await slack.publishIncidentCard({
        incident: card,
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
      await slack.postTimelineEntry({ incidentId, ref, entry: item.entry });
    } else if (item.kind === 'escalation') {
      await slack.postEscalation({ incidentId, ref, tier: item.tier, mentions: item.mentions, text: item.text });
    } else {
      const gate = this.record.gates.find((g) => g.name === item.gate);
      if (!gate) return;
      if (item.kind === 'approval') {
        if (gate.status !== 'pending') return;
        const request = await slack.postApprovalRequest({ incidentId, ref, gate });
        if (request) this.approvalMessages.set(gate.name, request);
      } else if (this.approvalMessages.has(gate.name)) {
        await slack.closeApprovalRequest({ incidentId, request: this.approvalMessages.get(gate.name), gate });
      }
    }
  }
}

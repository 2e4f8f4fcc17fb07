/**
 * Escalation: the severity's response time, then the next tier (Slack on-call mention → PagerDuty
 * or email → incident commander), re-paging on an interval until someone acknowledges. Gates and failed
 * remediations escalate through the same ladder.
 */
import { condition, isCancellation } from '@temporalio/workflow';
import { ErrorType } from '../../common/errors';
import { formatTarget } from '../../common/ids';
import { isClosed } from '../../domain/record';
import { sendEmailPage } from './email-page';
import { failureMessage } from './failures';
import { paging } from './proxies';
import type { IncidentState } from './state';

export class Escalation {
  /** A PagerDuty incident is open for this incident: acknowledge and resolve it with ours. */
  pagerDutyPaged: boolean;
  /** Pages being sent right now: continue-as-new waits for them, so the next run knows of them. */
  pagesInFlight = 0;

  constructor(private readonly state: IncidentState<unknown>) {
    this.pagerDutyPaged = state.input.resume?.pagerDutyPaged ?? false;
  }

  /** Pages the next tier (the last one again once all have been paged). */
  async escalate(reason: string): Promise<void> {
    const { record, policy } = this.state;
    const tiers = policy.tiers;
    if (tiers.length === 0) {
      this.state.note('escalation', `${reason} — no escalation tier is configured`);
      return;
    }
    const index = Math.min(record.escalationTier, tiers.length - 1);
    const tier = tiers[index]!;
    record.escalationTier = index + 1;
    this.state.slack.cardChanged();
    const text = `ESCALATION (${tier.name}): ${reason} — incident ${record.id}, ${record.title}`;
    if (this.state.rehearsal) {
      // The escalation path is rehearsed up to the page: the tier is named, nobody is reached.
      this.state.note('escalation', `would page ${tier.name} (${tier.kind}), but a rehearsal pages nobody: ${reason}`, {
        tier: tier.name,
        kind: tier.kind,
        reason,
        wouldPage: true,
      });
      return;
    }
    this.state.note('escalation', text, { tier: tier.name, kind: tier.kind, reason }, { post: tier.kind !== 'slack' });
    if (tier.kind === 'slack') {
      this.state.slack.post({ kind: 'escalation', tier: tier.name, mentions: tier.mentions, text });
      return;
    }
    this.pagesInFlight += 1;
    try {
      if (tier.kind === 'email') {
        await sendEmailPage(this.state, tier, index, reason);
      } else {
        await paging.triggerPage({
          incidentId: record.id,
          summary: `${record.severity} ${record.title}: ${reason}`,
          severity: record.severity,
          source: formatTarget(record.target),
          details: { runbook: record.runbook, tier: tier.name, status: record.status },
        });
        this.pagerDutyPaged = true;
      }
    } catch (err) {
      if (isCancellation(err)) throw err;
      this.state.note('failure', `Paging ${tier.name} failed: ${failureMessage(err)}`, { tier: tier.name });
    } finally {
      this.pagesInFlight -= 1;
    }
  }

  /** The runbook did what it could and the service is still not right: say so, page, wait for humans. */
  async remediationFailed(message: string, type: ErrorType = ErrorType.UNHEALTHY_AFTER_REMEDIATION): Promise<void> {
    this.state.record.failure = { type, message };
    this.state.record.outcome = message;
    this.state.note('failure', message, { type });
    await this.escalate(message);
  }

  /** Escalates at the response time and re-pages until the incident is acknowledged or closed. */
  async watchAcknowledgement(): Promise<void> {
    const record = this.state.record;
    const settled = () => record.acknowledgedAt !== undefined || isClosed(record);
    try {
      let { wait, waited } = this.firstAcknowledgementWait();
      while (!(await condition(settled, wait))) {
        await this.escalate(`not acknowledged within ${waited}`);
        wait = this.state.policy.repageIntervalMs;
        waited = 'the re-page interval';
      }
      if (record.acknowledgedAt !== undefined && this.pagerDutyPaged && !isClosed(record)) {
        await paging.acknowledgePage({ incidentId: record.id });
      }
    } catch (err) {
      if (isCancellation(err)) return;
      this.state.note('failure', `Escalation watch failed: ${failureMessage(err)}`);
    }
  }

  /**
   * Measured from the incident's opening and its last page, not from this run's start: a run
   * continued as new must not grant the response time again.
   */
  private firstAcknowledgementWait(): { wait: number; waited: string } {
    const { record, policy } = this.state;
    const deadline = Date.parse(record.openedAt) + policy.ackDeadlineMs[record.severity];
    if (Date.now() < deadline) return { wait: deadline - Date.now(), waited: `the ${record.severity} response time` };
    const lastPage = record.timeline.findLast((entry) => entry.kind === 'escalation');
    const nextPage = (lastPage ? Date.parse(lastPage.at) : deadline) + policy.repageIntervalMs;
    return { wait: Math.max(1, nextPage - Date.now()), waited: 'the re-page interval' };
  }
}

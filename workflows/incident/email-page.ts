/**
 * An email tier's page: one message per page, threaded per incident. The page key is the tier and
 * the workflow time of the page, fixed in history, so an activity retried after a worker died
 * mid-send resends the same Message-ID (activities/email.ts derives it).
 */
import { workflowInfo } from '@temporalio/workflow';
import type { EscalationTier } from '../../common/incident';
import { email } from './proxies';
import type { IncidentState } from './state';

export async function sendEmailPage(
  state: IncidentState<unknown>,
  tier: EscalationTier,
  tierIndex: number,
  reason: string,
): Promise<void> {
  const { record } = state;
  const emailPages = record.timeline.filter((e) => e.kind === 'escalation' && e.data?.kind === 'email').length;
  await email.sendPageEmail({
    incidentId: record.id,
    workflowId: workflowInfo().workflowId,
    tier: tier.name,
    to: tier.to ?? [],
    severity: record.severity,
    title: record.title,
    reason,
    pageKey: `${tierIndex}@${Date.now()}`,
    // This page's own escalation entry is already on the timeline.
    first: emailPages <= 1,
  });
}

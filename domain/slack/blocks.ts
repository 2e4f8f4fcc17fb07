/**
 * Block Kit rendering of an incident: the card (one per incident, kept current with chat.update),
 * timeline entries for its thread, approval requests with their buttons. Pure: the Slack
 * activities post what these return.
 */
import { formatTarget } from '../../common/ids';
import { alertCounts } from '../alerts';
import { REHEARSAL_BANNER, REHEARSAL_LABEL, wouldChangeText } from '../rehearsal';
import type { GateState, IncidentRecord, TimelineEntry, Trigger } from '../../common/types';
import { ackActionId, encodeActionValue, gateActions, type IncidentKey } from './buttons';
import {
  SLACK_LIMITS,
  actorText,
  escapeMrkdwn,
  mention,
  mrkdwn,
  plain,
  safeText,
  slackDate,
  truncateText,
  type SlackBlock,
} from './mrkdwn';

const MAX_GATES_ON_CARD = 8;

const STATUS_EMOJI: Record<IncidentRecord['status'], string> = {
  open: ':red_circle:',
  acknowledged: ':large_orange_circle:',
  mitigated: ':large_yellow_circle:',
  resolved: ':large_green_circle:',
  failed: ':x:',
  cancelled: ':white_circle:',
};

const KIND_EMOJI: Record<TimelineEntry['kind'], string> = {
  opened: ':rotating_light:',
  step: ':arrow_forward:',
  diagnostic: ':mag:',
  decision: ':ballot_box_with_check:',
  gate: ':raising_hand:',
  escalation: ':loudspeaker:',
  acknowledged: ':eyes:',
  mitigation: ':wrench:',
  restoration: ':leftwards_arrow_with_hook:',
  alert: ':bell:',
  status: ':information_source:',
  failure: ':warning:',
  note: ':memo:',
};

/** "Approved by <@U…> at <date>", "Rejected by …", "Timed out at …", or who may decide and by when. */
export function gateOutcome(gate: GateState): string {
  const at = gate.decidedAt ? ` at ${slackDate(gate.decidedAt)}` : '';
  const choice = gate.choice !== undefined ? ` (${safeText(gate.choice, 200)})` : '';
  const comment = gate.comment ? ` — ${safeText(gate.comment, 300)}` : '';
  switch (gate.status) {
    case 'approved':
      return `:white_check_mark: Approved${choice} by ${approvers(gate)}${at}${comment}`;
    case 'rejected':
      return gate.decidedBy
        ? `:no_entry: Rejected by ${actorText(gate.decidedBy)}${at}${comment}`
        : `:no_entry: Withdrawn${at}${comment}`;
    case 'timed_out':
      return `:hourglass: Timed out without a decision${at}`;
    case 'pending':
      if (gate.overdue)
        return `:rotating_light: Overdue since ${slackDate(gate.deadline)}: still waiting for ${quorumText(gate).trim()}`;
      return `:hourglass_flowing_sand: Waiting for ${quorumText(gate)}until ${slackDate(gate.deadline)}${gate.fourEyes ? ' (four eyes: not the person who triggered it)' : ''}`;
  }
}

/** Everyone whose approval counted, in order: one person, or the N of an N-of-M gate. */
function approvers(gate: GateState): string {
  const people = gate.approvals?.length ? gate.approvals.map((approval) => approval.actor) : [gate.decidedBy];
  return people.map((actor) => actorText(actor)).join(', ');
}

/** "a decision " or "2 approvals from different people (1 so far: <@U…>) ". */
function quorumText(gate: GateState): string {
  if (!gate.quorum || gate.quorum < 2) return 'a decision ';
  const so = gate.approvals ?? [];
  const sofar = so.length
    ? `${so.length} so far: ${so.map((approval) => actorText(approval.actor)).join(', ')}`
    : 'none yet';
  return `${gate.quorum} approvals from different people (${sofar}) `;
}

function timelineLine(entry: TimelineEntry, maxMessage: number): string {
  return `${slackDate(entry.at, '{time_secs}')} ${KIND_EMOJI[entry.kind]} ${safeText(entry.message, maxMessage)}`;
}

function fallbackText(incident: IncidentRecord): string {
  return truncateText(
    `${incident.severity} ${escapeMrkdwn(incident.title)} — ${incident.status} (incident ${escapeMrkdwn(incident.id)})`,
    SLACK_LIMITS.fallbackText,
  );
}

/** Keeps a message within 50 blocks, saying how many were left out. */
export function fitBlocks(blocks: SlackBlock[]): SlackBlock[] {
  if (blocks.length <= SLACK_LIMITS.blocks) return blocks;
  const kept = blocks.slice(0, SLACK_LIMITS.blocks - 1);
  return [...kept, { type: 'context', elements: [mrkdwn(`…${blocks.length - kept.length} more blocks left out`)] }];
}

/** The incident card: header, facts, gates (with buttons while pending), mitigations, latest timeline. */
export function renderIncidentCard(incident: IncidentRecord, key: IncidentKey): { text: string; blocks: SlackBlock[] } {
  const closed = incident.closedAt !== undefined || ['resolved', 'failed', 'cancelled'].includes(incident.status);
  const blocks: SlackBlock[] = [
    { type: 'header', text: plain(`${incident.severity} · ${incident.title}`, SLACK_LIMITS.headerText) },
  ];
  if (incident.rehearsal)
    blocks.push({ type: 'context', elements: [mrkdwn(`:performing_arts: *${REHEARSAL_BANNER}*`)] });
  const targets = incident.targets.length > 0 ? incident.targets : [incident.target];
  const targetText = targets
    .slice(0, 10)
    .map((t) => `\`${escapeMrkdwn(formatTarget(t))}\``)
    .join(', ');
  const more = targets.length > 10 ? ` and ${targets.length - 10} more` : '';
  const fields = [
    `*Status*\n${STATUS_EMOJI[incident.status]} ${incident.status}`,
    `*Severity*\n${incident.severity}`,
    `*Incident*\n${escapeMrkdwn(incident.id)}`,
    `*Runbook*\n${escapeMrkdwn(incident.runbook)}`,
    `*Target${targets.length > 1 ? 's' : ''}*\n${targetText}${more}`,
    `*Triggered by*\n${triggerText(incident.trigger)}`,
    `*Opened*\n${slackDate(incident.openedAt)}`,
    `*Acknowledged*\n${incident.acknowledgedAt ? `${actorText(incident.acknowledgedBy)} at ${slackDate(incident.acknowledgedAt)}` : 'not yet'}`,
    `*Escalation*\n${incident.escalationTier > 0 ? `tier ${incident.escalationTier} ${incident.rehearsal ? 'reached (rehearsal: nobody paged)' : 'paged'}` : 'none'}`,
  ];
  blocks.push({
    type: 'section',
    fields: fields.slice(0, SLACK_LIMITS.fields).map((f) => mrkdwn(f, SLACK_LIMITS.fieldText)),
  });

  const state: string[] = [];
  if (incident.currentStep && !closed) state.push(`*Now:* ${safeText(incident.currentStep, 500)}`);
  if (incident.outcome) state.push(`*Outcome:* ${safeText(incident.outcome, 1000)}`);
  if (incident.failure)
    state.push(`*Failure* (${escapeMrkdwn(incident.failure.type)}): ${safeText(incident.failure.message, 1000)}`);
  const alerts = alertCounts(incident);
  if (alerts.firing + alerts.resolved + alerts.withheld > 0) {
    const withheld = alerts.exact && alerts.withheld > 0 ? `, ${alerts.withheld} withheld by the sender` : '';
    const partial = !alerts.exact && incident.alertsPartial ? ' (partial view)' : '';
    state.push(`*Alerts:* ${alerts.firing} firing, ${alerts.resolved} resolved${withheld}${partial}`);
  }
  state.push(...holdLines(incident));
  if (state.length > 0) blocks.push({ type: 'section', text: mrkdwn(state.join('\n')) });

  const gates = incident.gates.slice(-MAX_GATES_ON_CARD);
  for (const gate of gates) {
    blocks.push({
      type: 'section',
      text: mrkdwn(`*Approval* \`${escapeMrkdwn(gate.name)}\`: ${safeText(gate.prompt, 1500)}\n${gateOutcome(gate)}`),
    });
    if (gate.status === 'pending' && !closed) blocks.push(gateActions(key, gate));
  }

  if (incident.mitigations.length > 0) {
    const lines = incident.mitigations.map((m) => {
      const state = m.restoredAt ? 'restored' : m.restoreNote ? safeText(m.restoreNote, 200) : 'active';
      return `• \`${escapeMrkdwn(m.key)}\`: ${escapeMrkdwn(String(m.change.previous ?? 'unset'))} → ${escapeMrkdwn(String(m.change.applied ?? 'unset'))} (${state})`;
    });
    blocks.push({ type: 'section', text: mrkdwn(`*Temporary mitigations*\n${lines.join('\n')}`) });
  }

  const rehearsal = incident.rehearsal;
  if (rehearsal && rehearsal.wouldChange.length > 0) {
    const lines = rehearsal.wouldChange
      .slice(0, 15)
      .map((change) => `• ${safeText(wouldChangeText(change.target, change.what), 300)}`);
    const more = rehearsal.wouldChange.length - lines.length + rehearsal.moreChanges;
    if (more > 0) lines.push(`…and ${more} more (on the timeline)`);
    blocks.push({
      type: 'section',
      text: mrkdwn(`*Would-be changes (${REHEARSAL_LABEL}: not made)*\n${lines.join('\n')}`),
    });
  }

  const recent = incident.timeline.slice(-SLACK_LIMITS.contextElements);
  if (recent.length > 0) {
    blocks.push({ type: 'context', elements: recent.map((entry) => mrkdwn(timelineLine(entry, 250))) });
  }

  if (!closed && incident.acknowledgedAt === undefined) {
    blocks.push({
      type: 'actions',
      block_id: 'incident',
      elements: [
        {
          type: 'button',
          action_id: ackActionId(key.workflowId, key.incidentId),
          text: plain('Acknowledge', SLACK_LIMITS.buttonText),
          style: 'primary',
          value: encodeActionValue({ w: key.workflowId, i: key.incidentId, kind: 'ack' }),
        },
      ],
    });
  }
  return { text: fallbackText(incident), blocks: fitBlocks(blocks) };
}

/** Who holds the deployments this incident waits for, and who waits for this one. */
function holdLines(incident: IncidentRecord): string[] {
  const lines: string[] = [];
  for (const hold of (incident.holds ?? []).slice(0, 10)) {
    const target = `\`${escapeMrkdwn(formatTarget(hold.target))}\``;
    if (hold.state === 'waiting' && hold.holder) {
      lines.push(`*Waiting:* ${target} is held by incident ${escapeMrkdwn(hold.holder.incidentId)}`);
    } else if (hold.state === 'forced' && hold.holder) {
      lines.push(`*Forced:* ${target} was held by incident ${escapeMrkdwn(hold.holder.incidentId)}`);
    }
    const waiters = (hold.waiters ?? []).slice(0, 5).map((w) => escapeMrkdwn(w.incidentId));
    if (waiters.length > 0) lines.push(`*Holding* ${target} for: ${waiters.join(', ')}`);
  }
  return lines;
}

/** A timeline entry as a thread reply: the first line as text, the rest as a code block. */
export function renderTimelineEntry(entry: TimelineEntry): { text: string; blocks: SlackBlock[] } {
  const [first = '', ...rest] = entry.message.split('\n');
  const head = `${slackDate(entry.at, '{time_secs}')} ${KIND_EMOJI[entry.kind]} ${safeText(first, 1000)}`;
  const blocks: SlackBlock[] = [{ type: 'section', text: mrkdwn(head) }];
  if (rest.length > 0) {
    // Backticks cannot close the code block early: three in a row are broken up.
    const body = escapeMrkdwn(rest.join('\n')).replace(/```/g, '`\u200b``');
    blocks.push({ type: 'section', text: mrkdwn(`\`\`\`${truncateText(body, SLACK_LIMITS.sectionText - 7)}\`\`\``) });
  }
  return { text: truncateText(`${entry.kind}: ${escapeMrkdwn(entry.message)}`, SLACK_LIMITS.fallbackText), blocks };
}

export function renderApprovalRequest(key: IncidentKey, gate: GateState): { text: string; blocks: SlackBlock[] } {
  const head = `:raising_hand: *Approval needed* \`${escapeMrkdwn(gate.name)}\` for incident ${escapeMrkdwn(key.incidentId)}\n${safeText(gate.prompt, 2000)}`;
  const blocks: SlackBlock[] = [
    { type: 'section', text: mrkdwn(head) },
    { type: 'context', elements: [mrkdwn(gateOutcome(gate))] },
  ];
  if (gate.status === 'pending') blocks.push(gateActions(key, gate));
  return {
    text: truncateText(
      `Approval needed (${escapeMrkdwn(gate.name)}): ${escapeMrkdwn(gate.prompt)}`,
      SLACK_LIMITS.fallbackText,
    ),
    blocks,
  };
}

function triggerText(trigger: Trigger): string {
  if (trigger.kind === 'slack') return `${mention(trigger.user)} (Slack)`;
  if (trigger.kind === 'cli') return `${escapeMrkdwn(trigger.user)} (CLI)`;
  return `alert from ${trigger.source} (receiver ${escapeMrkdwn(trigger.receiver)})`;
}

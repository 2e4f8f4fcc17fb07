/**
 * Slack activities: one incident card per incident (kept current with chat.update), the timeline
 * in its thread, approval requests with buttons, escalation mentions. Without a Slack client (not
 * configured), every call writes to the log instead and nothing fails.
 *
 * The client is built with `retryConfig: { retries: 0 }` and `rejectRateLimitedCalls: true`: each
 * activity attempt is one API call, a 429 becomes a retryable RATE_LIMITED failure whose
 * `nextRetryDelay` is Slack's Retry-After, and Temporal owns the backoff.
 *
 * Everything a user or the cluster wrote (targets, prompts, events, names) is escaped for mrkdwn
 * (`&`, `<`, `>`), so no text can smuggle in a mention (`<!channel>`) or a link; Block Kit limits
 * (50 blocks, 3000 characters per section, 150 per header, 75 per button) are respected by
 * truncating after escaping, never inside an entity.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { ErrorCode, type Block, type WebClient } from '@slack/web-api';
import { ErrorType } from '../common/errors';
import { lineLog, processLogger } from '../config/logger';
import { fnv1a64, formatTarget } from '../common/ids';
import type { Actor, GateState, IncidentRecord, TimelineEntry, Trigger } from '../common/types';

export interface SlackMessageRef {
  channel: string;
  ts: string;
}

export interface SlackActivityDeps {
  /** Null when Slack is not configured: messages go to the log. */
  client: WebClient | null;
  /** Default channel for incident cards. */
  defaultChannel?: string;
  log?: (line: string) => void;
}

/** A Block Kit block as JSON: what we build and what Slack stores. */
export type SlackBlock = Block & Record<string, unknown>;

// ---- Block Kit limits (https://api.slack.com/reference/block-kit) ------------------------------

export const SLACK_LIMITS = {
  blocks: 50,
  sectionText: 3000,
  fieldText: 2000,
  fields: 10,
  headerText: 150,
  buttonText: 75,
  optionText: 75,
  buttonValue: 2000,
  actionElements: 25,
  selectOptions: 100,
  contextElements: 10,
  confirmText: 300,
  /** chat.postMessage truncates `text` beyond 40,000 characters; we keep the fallback short. */
  fallbackText: 3000,
} as const;

/** Choices beyond this many are offered in a static_select instead of one button each. */
const MAX_CHOICE_BUTTONS = 4;
const MAX_GATES_ON_CARD = 8;

// ---- escaping and truncation -------------------------------------------------------------------

/** Escapes the three characters Slack's mrkdwn treats as control characters. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * Shortens already-escaped text to `max` characters with an ellipsis, never cutting an entity
 * (`&amp;`) or a surrogate pair in half.
 */
export function truncateText(text: string, max: number): string {
  if (text.length <= max) return text;
  let cut = text.slice(0, Math.max(0, max - 1));
  cut = cut.replace(/&[a-z]{0,3}$/, '');
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  return `${cut}…`;
}

/** Escape, then fit: the usual way to put foreign text into a block. */
export function safeText(text: string, max: number): string {
  return truncateText(escapeMrkdwn(text), max);
}

/** Plain-text fields (headers, buttons) are not parsed as mrkdwn; they only need to fit. */
function plain(text: string, max: number): { type: 'plain_text'; text: string; emoji: true } {
  return { type: 'plain_text', text: truncateText(text, max) || ' ', emoji: true };
}

function mrkdwn(text: string, max: number = SLACK_LIMITS.sectionText): { type: 'mrkdwn'; text: string } {
  return { type: 'mrkdwn', text: truncateText(text, max) || ' ' };
}

/** Slack renders this in each reader's time zone; the fallback is the ISO time. */
export function slackDate(iso: string, format = '{date_short_pretty} {time_secs}'): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return escapeMrkdwn(iso);
  return `<!date^${Math.floor(ms / 1000)}^${format}|${new Date(ms).toISOString()}>`;
}

const SLACK_USER_ID = /^[UW][A-Z0-9]{2,}$/;
const SLACK_GROUP_ID = /^S[A-Z0-9]{2,}$/;

/** A mention for Slack ids we know the shape of; anything else is escaped text, never markup. */
export function mention(id: string): string {
  if (SLACK_USER_ID.test(id)) return `<@${id}>`;
  if (SLACK_GROUP_ID.test(id)) return `<!subteam^${id}>`;
  return escapeMrkdwn(id);
}

export function actorText(actor: Actor | undefined): string {
  if (!actor) return 'nobody';
  if (SLACK_USER_ID.test(actor.id)) return `<@${actor.id}>`;
  return escapeMrkdwn(actor.name ?? actor.id);
}

function triggerText(trigger: Trigger): string {
  if (trigger.kind === 'slack') return `${mention(trigger.user)} (Slack)`;
  if (trigger.kind === 'cli') return `${escapeMrkdwn(trigger.user)} (CLI)`;
  return `alert from ${trigger.source} (receiver ${escapeMrkdwn(trigger.receiver)})`;
}

// ---- interactive elements: the contract with ingress/slack/interactions.ts ---------------------

/** What a Firebreak button carries in its `value` (JSON, ≤ 2000 characters). */
export interface ActionValue {
  /** Workflow id of the incident. */
  w: string;
  /** Incident id: guards against a workflow id reused by a later incident. */
  i: string;
  kind: 'decide' | 'ack';
  g?: string;
  d?: 'approve' | 'reject';
  c?: string;
}

export const ACTION_ID_PREFIX = 'fb:';

/**
 * Unique per gate request and decision (and choice), stable across the card and the thread
 * message: it becomes the Temporal update id, so a double click — or the same button clicked on
 * the card and in the thread — is one decision.
 */
export function gateActionId(
  workflowId: string,
  incidentId: string,
  gate: Pick<GateState, 'name' | 'requestedAt'>,
  decision: 'approve' | 'reject' | 'choose',
  index?: number,
): string {
  const key = fnv1a64(`${workflowId}\u0000${incidentId}\u0000${gate.name}\u0000${gate.requestedAt}`);
  return `${ACTION_ID_PREFIX}${key}:${gate.name}:${decision}${index === undefined ? '' : `:${index}`}`.slice(0, 255);
}

export function ackActionId(workflowId: string, incidentId: string): string {
  return `${ACTION_ID_PREFIX}${fnv1a64(`${workflowId}\u0000${incidentId}`)}:ack`;
}

function encodeValue(value: ActionValue): string {
  const text = JSON.stringify(value);
  if (text.length <= SLACK_LIMITS.buttonValue) return text;
  // Only a pathological choice can get here; without the choice the click still identifies the gate.
  return JSON.stringify({ ...value, c: undefined });
}

interface IncidentKey {
  workflowId: string;
  incidentId: string;
}

function confirmDialog(title: string, text: string, confirm: string): Record<string, unknown> {
  return {
    title: plain(title, 100),
    text: mrkdwn(text, SLACK_LIMITS.confirmText),
    confirm: plain(confirm, 30),
    deny: plain('Cancel', 30),
  };
}

/** Approve/Reject buttons (with confirm dialogs), one Approve per choice, or a select for many choices. */
export function gateActions(key: IncidentKey, gate: GateState): SlackBlock {
  const prompt = safeText(gate.prompt, 200);
  const base = { w: key.workflowId, i: key.incidentId, kind: 'decide' as const, g: gate.name };
  const elements: Record<string, unknown>[] = [];
  const choices = gate.choices ?? [];
  if (choices.length === 0) {
    elements.push({
      type: 'button',
      action_id: gateActionId(key.workflowId, key.incidentId, gate, 'approve'),
      text: plain('Approve', SLACK_LIMITS.buttonText),
      style: 'primary',
      value: encodeValue({ ...base, d: 'approve' }),
      confirm: confirmDialog(`Approve ${gate.name}?`, prompt, 'Approve'),
    });
  } else if (choices.length <= MAX_CHOICE_BUTTONS) {
    choices.forEach((choice, index) =>
      elements.push({
        type: 'button',
        action_id: gateActionId(key.workflowId, key.incidentId, gate, 'approve', index),
        text: plain(`Approve ${choice}`, SLACK_LIMITS.buttonText),
        style: 'primary',
        value: encodeValue({ ...base, d: 'approve', c: choice }),
        confirm: confirmDialog(`Approve ${gate.name}?`, `${prompt}\nChoice: *${safeText(choice, 80)}*`, 'Approve'),
      }),
    );
  } else {
    elements.push({
      type: 'static_select',
      action_id: gateActionId(key.workflowId, key.incidentId, gate, 'choose'),
      placeholder: plain('Approve with…', SLACK_LIMITS.optionText),
      options: choices.slice(0, SLACK_LIMITS.selectOptions).map((choice, index) => ({
        text: plain(choice, SLACK_LIMITS.optionText),
        // Option values are capped at 150 characters; the ingress maps the index back through the gate.
        value: String(index),
      })),
      confirm: confirmDialog(`Approve ${gate.name}?`, `${prompt}\nThe option you picked is approved.`, 'Approve'),
    });
  }
  elements.push({
    type: 'button',
    action_id: gateActionId(key.workflowId, key.incidentId, gate, 'reject'),
    text: plain('Reject', SLACK_LIMITS.buttonText),
    style: 'danger',
    value: encodeValue({ ...base, d: 'reject' }),
    confirm: confirmDialog(`Reject ${gate.name}?`, `${prompt}\nRejecting stops this step of the runbook.`, 'Reject'),
  });
  return { type: 'actions', block_id: `gate:${gate.name}`.slice(0, 255), elements };
}

// ---- rendering -------------------------------------------------------------------------------

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
      return `:white_check_mark: Approved${choice} by ${actorText(gate.decidedBy)}${at}${comment}`;
    case 'rejected':
      return gate.decidedBy
        ? `:no_entry: Rejected by ${actorText(gate.decidedBy)}${at}${comment}`
        : `:no_entry: Withdrawn${at}${comment}`;
    case 'timed_out':
      return `:hourglass: Timed out without a decision${at}`;
    case 'pending':
      return `:hourglass_flowing_sand: Waiting for a decision until ${slackDate(gate.deadline)}${gate.fourEyes ? ' (four eyes: not the person who triggered it)' : ''}`;
  }
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
    `*Escalation*\n${incident.escalationTier > 0 ? `tier ${incident.escalationTier} paged` : 'none'}`,
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
  if (incident.alerts.length > 0) {
    const firing = incident.alerts.filter((a) => a.status === 'firing').length;
    state.push(
      `*Alerts:* ${firing} firing, ${incident.alerts.length - firing} resolved${incident.alertsPartial ? ' (partial view)' : ''}`,
    );
  }
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
          value: encodeValue({ w: key.workflowId, i: key.incidentId, kind: 'ack' }),
        },
      ],
    });
  }
  return { text: fallbackText(incident), blocks: fitBlocks(blocks) };
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

// ---- errors ----------------------------------------------------------------------------------

/** Slack error codes that the same request will get again: retrying cannot help. */
const PERMANENT_ERRORS = new Set([
  'not_authed',
  'invalid_auth',
  'account_inactive',
  'token_revoked',
  'token_expired',
  'no_permission',
  'missing_scope',
  'not_allowed_token_type',
  'channel_not_found',
  'not_in_channel',
  'is_archived',
  'restricted_action',
  'invalid_blocks',
  'invalid_blocks_format',
  'invalid_arguments',
  'invalid_arg_name',
  'msg_too_long',
  'no_text',
  'too_many_attachments',
  'message_not_found',
  'cant_update_message',
  'edit_window_closed',
  'thread_not_found',
  'user_not_in_channel',
  'no_such_subteam',
  'unknown_method',
  'method_deprecated',
]);

interface SlackErrorShape {
  code?: string;
  retryAfter?: number;
  data?: { error?: string };
  statusCode?: number;
  message?: string;
}

/** The Slack error code of a platform error (`channel_not_found`…), if that is what `err` is. */
export function slackErrorCode(err: unknown): string | undefined {
  const e = err as SlackErrorShape;
  return e?.code === ErrorCode.PlatformError ? e.data?.error : undefined;
}

/**
 * Maps a WebClient failure onto Temporal's retry semantics: 429 → retryable RATE_LIMITED after
 * Retry-After; permanent platform errors and 4xx → non-retryable PROVIDER_REJECTED; the rest
 * (network, 5xx, `internal_error`, `ratelimited` in a 200) → plain errors, retried with backoff.
 */
export function toActivityFailure(err: unknown, what: string): Error {
  const e = err as SlackErrorShape;
  if (e?.code === ErrorCode.RateLimitedError) {
    const seconds = Number.isFinite(e.retryAfter) ? Math.max(0, e.retryAfter ?? 0) : 1;
    return ApplicationFailure.create({
      message: `Slack rate-limited ${what}; retry after ${seconds}s`,
      type: ErrorType.RATE_LIMITED,
      nonRetryable: false,
      nextRetryDelay: Math.min(seconds, 3600) * 1000,
    });
  }
  if (e?.code === ErrorCode.PlatformError) {
    const code = e.data?.error ?? 'unknown_error';
    if (PERMANENT_ERRORS.has(code)) {
      return ApplicationFailure.nonRetryable(`Slack refused ${what}: ${code}`, ErrorType.PROVIDER_REJECTED);
    }
    return new Error(`Slack failed ${what}: ${code}`);
  }
  if (e?.code === ErrorCode.HTTPError && e.statusCode !== undefined && e.statusCode < 500) {
    return ApplicationFailure.nonRetryable(
      `Slack answered HTTP ${e.statusCode} to ${what}`,
      ErrorType.PROVIDER_REJECTED,
    );
  }
  return new Error(`Slack call ${what} did not get through: ${e?.message ?? String(err)}`, { cause: err });
}

/** The workflow the activity runs for: button values name it so clicks reach the right incident. */
function currentWorkflowId(fallback: string): string {
  try {
    return Context.current().info.workflowExecution?.workflowId ?? fallback;
  } catch {
    // Called outside an activity (tests of the rendering): the incident id stands in.
    return fallback;
  }
}

export function createSlackActivities(deps: SlackActivityDeps) {
  const log = deps.log ?? lineLog(processLogger(), 'slack');
  const client = deps.client;

  async function call<T>(what: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (err) {
      throw toActivityFailure(err, what);
    }
  }

  async function postMessage(
    what: string,
    message: {
      channel: string;
      text: string;
      blocks: SlackBlock[];
      thread_ts?: string;
      reply_broadcast?: boolean;
    },
  ): Promise<SlackMessageRef> {
    const common = { channel: message.channel, text: message.text, blocks: message.blocks, unfurl_links: false };
    const result = await call(what, () =>
      message.thread_ts
        ? client!.chat.postMessage({
            ...common,
            thread_ts: message.thread_ts,
            reply_broadcast: message.reply_broadcast ?? false,
          })
        : client!.chat.postMessage(common),
    );
    if (!result.ts || !result.channel) throw new Error(`Slack answered ${what} without ts/channel`);
    return { channel: result.channel, ts: result.ts };
  }

  return {
    /**
     * Posts the incident card, or updates it in place (chat.update) when `ref` is given; a card
     * deleted in Slack is posted again. Changes: one Slack message per incident. Idempotency key:
     * `ref` — updates are idempotent; a first post retried after a lost answer can post twice
     * (Slack has no idempotency key), which the kernel bounds by keeping the ref it gets back.
     * Timeout profile REMOTE_CALL. Returns undefined when Slack is not configured (logged).
     */
    async publishIncidentCard(input: {
      incident: IncidentRecord;
      ref?: SlackMessageRef;
      /** Channel for the first post; defaults to the configured incident channel. */
      channel?: string;
    }): Promise<SlackMessageRef | undefined> {
      const { incident } = input;
      const channel = input.ref?.channel ?? input.channel ?? deps.defaultChannel;
      if (!client || !channel) {
        log(`[slack] card ${incident.id}: ${incident.severity} ${incident.title} — ${incident.status}`);
        return input.ref;
      }
      const key = { workflowId: currentWorkflowId(incident.id), incidentId: incident.id };
      const { text, blocks } = renderIncidentCard(incident, key);
      if (input.ref) {
        try {
          await client.chat.update({ channel: input.ref.channel, ts: input.ref.ts, text, blocks });
          return input.ref;
        } catch (err) {
          if (slackErrorCode(err) !== 'message_not_found')
            throw toActivityFailure(err, `chat.update of card ${incident.id}`);
          log(`[slack] card of ${incident.id} was deleted; posting it again`);
        }
      }
      return postMessage(`chat.postMessage of card ${incident.id}`, { channel, text, blocks });
    },

    /**
     * Posts a timeline entry as a reply in the card's thread. Changes: one thread reply. Idempotency:
     * none on Slack's side — the kernel's single courier posts entries one at a time and in order,
     * so a retry (429 honouring Retry-After) never reorders the thread. Timeout profile REMOTE_CALL.
     */
    async postTimelineEntry(input: {
      incidentId: string;
      ref?: SlackMessageRef;
      entry: TimelineEntry;
    }): Promise<SlackMessageRef | undefined> {
      if (!client || !input.ref) {
        log(`[slack] ${input.incidentId} ${input.entry.at} ${input.entry.kind}: ${input.entry.message}`);
        return undefined;
      }
      const { text, blocks } = renderTimelineEntry(input.entry);
      return postMessage(`thread reply for ${input.incidentId}`, {
        channel: input.ref.channel,
        thread_ts: input.ref.ts,
        text,
        blocks,
      });
    },

    /**
     * Posts an approval request (Approve/Reject with confirm dialogs, one Approve per choice or a
     * select for many) in the card's thread, also shown in the channel. Changes: one message.
     * The buttons' action ids are the decision's update id, so clicks on the card and on this
     * message are the same decision. Timeout profile REMOTE_CALL.
     */
    async postApprovalRequest(input: {
      incidentId: string;
      ref?: SlackMessageRef;
      gate: GateState;
    }): Promise<SlackMessageRef | undefined> {
      if (!client || !input.ref) {
        log(
          `[slack] ${input.incidentId} approval needed (${input.gate.name}): ${input.gate.prompt} — decide with ` +
            `\`firebreak approve|reject ${input.incidentId} --gate ${input.gate.name}\` before ${input.gate.deadline}`,
        );
        return undefined;
      }
      const key = { workflowId: currentWorkflowId(input.incidentId), incidentId: input.incidentId };
      const { text, blocks } = renderApprovalRequest(key, input.gate);
      return postMessage(`approval request ${input.gate.name} for ${input.incidentId}`, {
        channel: input.ref.channel,
        thread_ts: input.ref.ts,
        reply_broadcast: true,
        text,
        blocks,
      });
    },

    /**
     * Replaces an approval request's buttons with its outcome ("Approved by @x at …") through
     * chat.update. Idempotent (same content every time); a deleted request is nothing to close.
     * Timeout profile REMOTE_CALL.
     */
    async closeApprovalRequest(input: {
      incidentId: string;
      request?: SlackMessageRef;
      gate: GateState;
    }): Promise<void> {
      if (!client || !input.request) {
        log(`[slack] ${input.incidentId} gate ${input.gate.name}: ${input.gate.status}`);
        return;
      }
      const key = { workflowId: currentWorkflowId(input.incidentId), incidentId: input.incidentId };
      const { text, blocks } = renderApprovalRequest(key, input.gate);
      try {
        await client.chat.update({ channel: input.request.channel, ts: input.request.ts, text, blocks });
      } catch (err) {
        if (slackErrorCode(err) === 'message_not_found') return;
        throw toActivityFailure(err, `closing approval request ${input.gate.name} of ${input.incidentId}`);
      }
    },

    /**
     * Mentions the people of an escalation tier in the card's thread, broadcast to the channel so
     * the mention notifies. Mentions are built only from Slack ids of the configured shape; the
     * text is escaped. Changes: one message. Timeout profile REMOTE_CALL.
     */
    async postEscalation(input: {
      incidentId: string;
      ref?: SlackMessageRef;
      tier: string;
      mentions: string[];
      text: string;
    }): Promise<void> {
      const who = input.mentions.filter((id) => SLACK_USER_ID.test(id) || SLACK_GROUP_ID.test(id)).map(mention);
      if (!client || !input.ref) {
        log(
          `[slack] ${input.incidentId} escalation to ${input.tier} (${input.mentions.join(', ') || 'nobody'}): ${input.text}`,
        );
        return;
      }
      const line = `:loudspeaker: ${who.join(' ')}${who.length ? ' ' : ''}${safeText(input.text, 2500)}`;
      await postMessage(`escalation to ${input.tier} for ${input.incidentId}`, {
        channel: input.ref.channel,
        thread_ts: input.ref.ts,
        reply_broadcast: true,
        text: truncateText(line, SLACK_LIMITS.fallbackText),
        blocks: [{ type: 'section', text: mrkdwn(line) }],
      });
    },
  };
}

export type SlackActivities = ReturnType<typeof createSlackActivities>;

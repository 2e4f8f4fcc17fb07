/**
 * Slack activities: one incident card per incident (kept current with chat.update), the timeline
 * in its thread, approval requests with buttons, escalation mentions. Without a Slack client (not
 * configured), every call writes to the log instead and nothing fails. What the messages look like
 * is domain/slack/ (blocks.ts, buttons.ts, mrkdwn.ts), shared with the ingress.
 *
 * The client is built with `retryConfig: { retries: 0 }` and `rejectRateLimitedCalls: true`: each
 * activity attempt is one API call (a retried first card post, two or three: see publishIncidentCard), a 429 becomes a retryable RATE_LIMITED failure whose
 * `nextRetryDelay` is Slack's Retry-After, and Temporal owns the backoff.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { ErrorCode, type WebClient } from '@slack/web-api';
import { ErrorType } from '../common/errors';
import { lineLog, processLogger } from '../config/logger';
import type { GateState, IncidentRecord, TimelineEntry } from '../common/types';
import { renderApprovalRequest, renderIncidentCard, renderTimelineEntry } from '../domain/slack/blocks';
import {
  SLACK_GROUP_ID,
  SLACK_LIMITS,
  SLACK_USER_ID,
  mention,
  mrkdwn,
  safeText,
  truncateText,
  type SlackBlock,
} from '../domain/slack/mrkdwn';

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
  // The external file upload (evidence).
  'missing_argument',
  'file_not_found',
  'file_uploads_disabled',
  'file_upload_size_restricted',
  'file_type_not_allowed',
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
/** Message metadata event type of incident cards (Slack message metadata). */
const CARD_EVENT_TYPE = 'firebreak_incident_card';
/** Recent channel messages searched for an earlier attempt's card: a retry comes within minutes. */
const CARD_SEARCH_MESSAGES = 200;

/** The current activity attempt (1 outside an activity: the rendering tests). */
function activityAttempt(): number {
  try {
    return Context.current().info.attempt;
  } catch {
    return 1;
  }
}

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
      metadata?: { event_type: string; event_payload: Record<string, string> };
    },
  ): Promise<SlackMessageRef> {
    const common = {
      channel: message.channel,
      text: message.text,
      blocks: message.blocks,
      unfurl_links: false,
      ...(message.metadata ? { metadata: message.metadata } : {}),
    };
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

  /**
   * The card an earlier attempt posted for this incident, by the message metadata every card
   * carries, among the channel's recent messages (one page). Undefined when there is none or the
   * channel cannot be read (no channels:history scope): then a second card is the lesser harm.
   */
  async function findPostedCard(channel: string, incidentId: string): Promise<SlackMessageRef | undefined> {
    try {
      const history = await client!.conversations.history({
        channel,
        limit: CARD_SEARCH_MESSAGES,
        include_all_metadata: true,
      });
      const card = history.messages?.find(
        (m) =>
          m.metadata?.event_type === CARD_EVENT_TYPE &&
          (m.metadata.event_payload as { incident_id?: unknown } | undefined)?.incident_id === incidentId,
      );
      return card?.ts ? { channel, ts: card.ts } : undefined;
    } catch (err) {
      log(
        `[slack] could not look for an earlier card of ${incidentId} (${slackErrorCode(err) ?? String(err)}); posting`,
      );
      return undefined;
    }
  }

  return {
    /**
     * Posts the incident card, or updates it in place (chat.update) when `ref` is given; a card
     * deleted in Slack is posted again. Changes: one Slack message per incident. Idempotency key:
     * `ref` — updates are idempotent. Slack has no idempotency key for a post, so every card carries
     * message metadata naming its incident, and a retried first post (the worker may have died after
     * Slack took the first) looks for it in the channel's recent history and updates it instead.
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
      // A retried first post may follow one Slack took before the worker died: find that card.
      if (!input.ref && activityAttempt() > 1) {
        const posted = await findPostedCard(channel, incident.id);
        if (posted) {
          await call(`chat.update of card ${incident.id}`, () =>
            client.chat.update({ channel: posted.channel, ts: posted.ts, text, blocks }),
          );
          log(`[slack] card of ${incident.id} was posted by an earlier attempt; updated it instead of posting again`);
          return posted;
        }
      }
      return postMessage(`chat.postMessage of card ${incident.id}`, {
        channel,
        text,
        blocks,
        metadata: { event_type: CARD_EVENT_TYPE, event_payload: { incident_id: incident.id } },
      });
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

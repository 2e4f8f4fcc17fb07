/**
 * Slack text: mrkdwn escaping, truncation within Block Kit's limits, dates and mentions. Everything
 * a user or the cluster wrote (targets, prompts, events, names) is escaped (`&`, `<`, `>`), so no
 * text can smuggle in a mention (`<!channel>`) or a link; limits (50 blocks, 3000 characters per
 * section, 150 per header, 75 per button) are met by truncating after escaping, never inside an
 * entity. Used by the Slack activities and the ingress alike.
 */
import type { Actor } from '../../common/types';

/** A Block Kit block as JSON: what we build and what Slack stores. */
export type SlackBlock = { type: string; block_id?: string } & Record<string, unknown>;

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
export function plain(text: string, max: number): { type: 'plain_text'; text: string; emoji: true } {
  return { type: 'plain_text', text: truncateText(text, max) || ' ', emoji: true };
}

export function mrkdwn(text: string, max: number = SLACK_LIMITS.sectionText): { type: 'mrkdwn'; text: string } {
  return { type: 'mrkdwn', text: truncateText(text, max) || ' ' };
}

/** Slack renders this in each reader's time zone; the fallback is the ISO time. */
export function slackDate(iso: string, format = '{date_short_pretty} {time_secs}'): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return escapeMrkdwn(iso);
  return `<!date^${Math.floor(ms / 1000)}^${format}|${new Date(ms).toISOString()}>`;
}

export const SLACK_USER_ID = /^[UW][A-Z0-9]{2,}$/;
export const SLACK_GROUP_ID = /^S[A-Z0-9]{2,}$/;

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

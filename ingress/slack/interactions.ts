/**
 * Button clicks (block_actions). A click becomes the kernel's Update with the button's action id
 * as the update id — Temporal runs one update per id, so a double click is one decision. The
 * kernel's validator decides who may approve; a refusal comes back to the clicker as an
 * ephemeral explanation and leaves the card alone. The card itself is updated by the workflow.
 */
import { z } from 'zod';
import { ACTION_ID_PREFIX, type ActionValue } from '../../domain/slack/buttons';
import { actorText, escapeMrkdwn } from '../../domain/slack/mrkdwn';
import { fnv1a64 } from '../../common/ids';
import { acknowledgeUpdate, decideUpdate, statusQuery } from '../../domain/messages';
import type { SlackIngressContext } from './context';
import { isPermissionRefusal } from '../../client/incidents';
import { explainRefusal } from './incidents';

const actionSchema = z.object({
  action_id: z.string().min(1).max(255),
  block_id: z.string().optional(),
  type: z.string(),
  value: z.string().optional(),
  selected_option: z.object({ value: z.string() }).optional(),
});

const blockActionsSchema = z.object({
  type: z.literal('block_actions'),
  user: z.object({ id: z.string().min(1), username: z.string().optional(), name: z.string().optional() }),
  channel: z.object({ id: z.string() }).optional(),
  container: z.object({ message_ts: z.string().optional(), thread_ts: z.string().optional() }).loose().optional(),
  response_url: z.url().optional(),
  actions: z.array(actionSchema).min(1).max(25),
  message: z
    .object({ ts: z.string().optional(), blocks: z.array(z.unknown()).optional() })
    .loose()
    .optional(),
});

export type BlockActions = z.infer<typeof blockActionsSchema>;

const actionValueSchema = z.object({
  w: z.string().min(1),
  i: z.string().min(1),
  kind: z.enum(['decide', 'ack']),
  g: z.string().optional(),
  d: z.enum(['approve', 'reject']).optional(),
  c: z.string().optional(),
}) satisfies z.ZodType<ActionValue>;

export type ParsedInteraction =
  | { kind: 'ignored'; type: string }
  | { kind: 'actions'; payload: BlockActions; clicks: Click[] }
  | { kind: 'invalid'; message: string };

export interface Click {
  actionId: string;
  value: ActionValue;
  /** Index of the option picked in a static_select of choices. */
  choiceIndex?: number;
}

/** Parses the form field `payload`; anything malformed is a 400 with the reason. */
export function parseInteraction(form: URLSearchParams): ParsedInteraction {
  const text = form.get('payload');
  if (text === null) return { kind: 'invalid', message: 'missing form field "payload"' };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return { kind: 'invalid', message: `form field "payload" is not valid JSON: ${(err as Error).message}` };
  }
  const type = z.object({ type: z.string() }).safeParse(raw);
  if (!type.success) return { kind: 'invalid', message: 'payload has no "type"' };
  // Shortcuts, view submissions…: not ours to handle; 200 so Slack does not show an error.
  if (type.data.type !== 'block_actions') return { kind: 'ignored', type: type.data.type };
  const parsed = blockActionsSchema.safeParse(raw);
  if (!parsed.success)
    return { kind: 'invalid', message: `invalid block_actions payload: ${z.prettifyError(parsed.error)}` };

  const clicks: Click[] = [];
  for (const action of parsed.data.actions) {
    if (!action.action_id.startsWith(ACTION_ID_PREFIX)) continue;
    const valueText = action.value ?? siblingValue(parsed.data, action.block_id);
    if (!valueText) return { kind: 'invalid', message: `action ${action.action_id} carries no Firebreak value` };
    let value: unknown;
    try {
      value = JSON.parse(valueText);
    } catch {
      return { kind: 'invalid', message: `action ${action.action_id} has a value that is not JSON` };
    }
    const checked = actionValueSchema.safeParse(value);
    if (!checked.success) return { kind: 'invalid', message: `action ${action.action_id} has an invalid value` };
    let choiceIndex: number | undefined;
    if (action.type === 'static_select') {
      const picked = Number(action.selected_option?.value);
      if (!Number.isInteger(picked) || picked < 0) {
        return { kind: 'invalid', message: `action ${action.action_id} has no selected option` };
      }
      choiceIndex = picked;
    }
    clicks.push({
      actionId: action.action_id,
      value: action.type === 'static_select' ? { ...checked.data, d: 'approve' } : checked.data,
      ...(choiceIndex !== undefined ? { choiceIndex } : {}),
    });
  }
  return { kind: 'actions', payload: parsed.data, clicks };
}

/**
 * A static_select has no `value` of its own: the gate it belongs to is named by the Reject
 * button next to it in the same actions block of the message the click came from.
 */
function siblingValue(payload: BlockActions, blockId: string | undefined): string | undefined {
  const block = payload.message?.blocks?.find(
    (b): b is { block_id?: string; elements?: Array<{ value?: unknown }> } =>
      typeof b === 'object' && b !== null && (b as { block_id?: unknown }).block_id === blockId,
  );
  const sibling = block?.elements?.find((element) => typeof element.value === 'string');
  return typeof sibling?.value === 'string' ? sibling.value : undefined;
}

/** Runs a click after the HTTP acknowledgement. */
export async function performClick(ctx: SlackIngressContext, payload: BlockActions, click: Click): Promise<void> {
  const tell = (text: string) => tellUser(ctx, payload, text);
  try {
    await ctx.bounded(() => decideOrAcknowledge(ctx, payload, click, tell));
  } catch (err) {
    count(ctx, click.value.kind, 'failed');
    await tell(`:warning: ${escapeMrkdwn(explainRefusal(err))}`);
  }
}

async function decideOrAcknowledge(
  ctx: SlackIngressContext,
  payload: BlockActions,
  click: Click,
  tell: (text: string) => Promise<void>,
): Promise<void> {
  const user = payload.user;
  const handle = ctx.temporal.workflow.getHandle(click.value.w);
  let record;
  try {
    record = await handle.query(statusQuery);
  } catch (err) {
    return tell(`:warning: ${escapeMrkdwn(explainRefusal(err))}`);
  }
  // A workflow id is reused by the next incident on the same target: an old card must not decide a new incident.
  if (record.id !== click.value.i) {
    return tell(`:warning: incident ${escapeMrkdwn(click.value.i)} is over; this button no longer applies.`);
  }
  const actor = await ctx.actorFor({
    id: user.id,
    ...(user.username || user.name ? { name: user.username ?? user.name } : {}),
  });

  try {
    if (click.value.kind === 'ack') {
      const after = await handle.executeUpdate(acknowledgeUpdate, { args: [{ actor }], updateId: click.actionId });
      if (after.acknowledgedBy && after.acknowledgedBy.id !== actor.id) {
        await tell(`Already acknowledged by ${actorText(after.acknowledgedBy)}.`);
      }
      count(ctx, 'ack', 'accepted');
      return;
    }
    const gateName = click.value.g;
    const decision = click.value.d;
    if (!gateName || !decision) return tell(':warning: this button does not name a gate and a decision.');
    let choice = click.value.c;
    let updateId = click.actionId;
    if (click.choiceIndex !== undefined) {
      choice = record.gates.find((g) => g.name === gateName)?.choices?.[click.choiceIndex];
      if (choice === undefined) return tell(":warning: that option is not one of the gate's choices.");
      // One select carries every choice: the pick makes the decision distinct.
      updateId = `${click.actionId}:${fnv1a64(choice)}`;
    }
    const quorum = record.gates.find((g) => g.name === gateName)?.quorum ?? 1;
    // Several people press the same button of a quorum gate: each press is its own decision (a
    // double click by one person is still one).
    if (quorum > 1) updateId = `${updateId}:${fnv1a64(actor.id)}`;
    const gate = await handle.executeUpdate(decideUpdate, {
      args: [{ gate: gateName, decision, actor, ...(choice !== undefined ? { choice } : {}) }],
      updateId,
    });
    if (gate.status === 'pending' && gate.quorum) {
      await tell(
        `Your approval of \`${escapeMrkdwn(gate.name)}\` is recorded: ${gate.approvals?.length ?? 0} of ${gate.quorum}.`,
      );
    }
    // The same update id from someone else returns the first clicker's outcome: say who decided.
    else if (gate.decidedBy && gate.decidedBy.id !== actor.id) {
      await tell(`Gate \`${escapeMrkdwn(gate.name)}\` was already ${gate.status} by ${actorText(gate.decidedBy)}.`);
    }
    count(ctx, 'decide', 'accepted');
  } catch (err) {
    count(ctx, click.value.kind, 'refused');
    if (isPermissionRefusal(err)) {
      await ctx.refused(click.value.kind === 'ack' ? 'acknowledge' : 'approve', actor, explainRefusal(err), handle);
    }
    await tell(`:no_entry: ${escapeMrkdwn(explainRefusal(err))}`);
  }
}

function count(ctx: SlackIngressContext, action: string, outcome: string): void {
  ctx.metrics?.slackActions.inc({ action, outcome });
}

/** An ephemeral note for the clicker only: chat.postEphemeral when we have a bot, else the response_url. */
async function tellUser(ctx: SlackIngressContext, payload: BlockActions, text: string): Promise<void> {
  const channel = payload.channel?.id;
  if (ctx.slack && channel) {
    try {
      await ctx.slack.chat.postEphemeral({
        channel,
        user: payload.user.id,
        text,
        ...(payload.container?.thread_ts ? { thread_ts: payload.container.thread_ts } : {}),
      });
      return;
    } catch (err) {
      ctx.log(`chat.postEphemeral failed, falling back to response_url: ${(err as Error).message}`);
    }
  }
  if (payload.response_url) {
    await ctx.respond(payload.response_url, { response_type: 'ephemeral', replace_original: false, text });
  } else {
    ctx.log(`no way to tell ${payload.user.id}: ${text}`);
  }
}

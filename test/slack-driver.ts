/**
 * Drives the ingress as Slack does: signed slash commands and button clicks posted to the real app,
 * and what Slack would show back (response_url answers, the card, its buttons), read from the
 * loopback stand-in. Shared by the Slack and the permission tests.
 */
import type { FastifyInstance } from 'fastify';
import {
  blockActionsBody,
  signSlackRequest,
  slashCommandBody,
  type SlackStandIn,
  type StoredMessage,
} from './bed/slack-standin';

export interface SlackUser {
  id: string;
  name: string;
}

interface Button {
  action_id: string;
  value?: string;
  type: string;
  text?: { text: string };
}

export function buttons(message: StoredMessage): Array<Button & { block_id: string }> {
  return (message.blocks ?? []).flatMap((block) => {
    const b = block as { type: string; block_id: string; elements?: Button[] };
    return b.type === 'actions' ? (b.elements ?? []).map((e) => ({ ...e, block_id: b.block_id })) : [];
  });
}

export class SlackDriver {
  constructor(
    /** Read at each call: the app and stand-in are built in `before`. */
    private readonly parts: () => { app: FastifyInstance; stand: SlackStandIn },
    private readonly options: { secret: string; channel: string; user: SlackUser },
  ) {}

  command = async (
    text: string,
    options: { command?: string; user?: SlackUser; timestamp?: number; secret?: string } = {},
  ) => {
    const { app, stand } = this.parts();
    const responseUrl = stand.responseUrl();
    const user = options.user ?? this.options.user;
    const body = slashCommandBody({
      command: options.command ?? '/runbook',
      text,
      userId: user.id,
      userName: user.name,
      channelId: this.options.channel,
      responseUrl,
    });
    const res = await app.inject({
      method: 'POST',
      url: '/slack/commands',
      headers: signSlackRequest(options.secret ?? this.options.secret, body, options.timestamp),
      payload: body,
    });
    return { res, responseUrl, responseId: responseUrl.split('/').pop()! };
  };

  responseFor = (id: string) => {
    const { stand } = this.parts();
    return stand.waitFor(`response_url ${id}`, () => stand.responses.find((r) => r.id === id));
  };

  card = (workflowTargetText: string): Promise<StoredMessage> => {
    const { stand } = this.parts();
    return stand.waitFor(`the card for ${workflowTargetText}`, () =>
      stand
        .channelMessages(this.options.channel)
        .find((m) => JSON.stringify(m.blocks ?? []).includes(workflowTargetText)),
    );
  };

  /** A block_actions payload as Slack sends it when `user` clicks `button` on `message`. */
  click = (user: SlackUser, message: StoredMessage, button: Button & { block_id: string }) => {
    const responseUrl = this.parts().stand.responseUrl();
    const payload = {
      type: 'block_actions',
      user: { id: user.id, username: user.name, name: user.name, team_id: 'T0FIREBREAK' },
      api_app_id: 'A0FIREBREAK',
      token: 'deprecated-verification-token',
      container: {
        type: 'message',
        message_ts: message.ts,
        channel_id: message.channel,
        is_ephemeral: false,
        ...(message.thread_ts ? { thread_ts: message.thread_ts } : {}),
      },
      trigger_id: `${Date.now()}.1.abc`,
      team: { id: 'T0FIREBREAK', domain: 'firebreak-test' },
      channel: { id: message.channel, name: 'incidents' },
      message: { type: 'message', ts: message.ts, text: message.text, blocks: message.blocks },
      response_url: responseUrl,
      actions: [
        {
          action_id: button.action_id,
          block_id: button.block_id,
          text: button.text ?? { type: 'plain_text', text: 'x' },
          value: button.value,
          type: button.type,
          action_ts: `${Date.now() / 1000}`,
        },
      ],
    };
    return { body: blockActionsBody(payload), responseUrl };
  };

  postInteraction = (body: string, headers = signSlackRequest(this.options.secret, body)) =>
    this.parts().app.inject({ method: 'POST', url: '/slack/interactions', headers, payload: body });
}

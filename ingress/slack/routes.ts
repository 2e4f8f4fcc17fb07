/**
 * `POST /slack/commands` and `POST /slack/interactions`. Each request is verified on its raw
 * bytes before anything is parsed (a bad or missing signature, or a timestamp more than 300 s
 * away, is a 401 and nothing starts), then acknowledged well within Slack's 3 s: slow work —
 * starting a workflow, running an update — happens after the answer, and its outcome reaches
 * the user through `response_url` or an ephemeral message.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApplicationFailure } from '@temporalio/common';
import type { WebClient } from '@slack/web-api';
import { escapeMrkdwn } from '../../domain/slack/mrkdwn';
import { startIncident } from '../../client/incidents';
import { ErrorType } from '../../common/errors';
import { lineLog } from '../../config/logger';
import { formatTarget } from '../../common/ids';
import type { Actor } from '../../common/types';
import { mayStart } from '../../domain/access';
import { prepareIncident } from '../../runbooks';
import type { AppDeps } from '../app';
import type { IngressMetrics } from '../metrics';
import {
  INCIDENT_SUBCOMMANDS,
  catalogText,
  parseIncidentCommand,
  parseRunbookCommand,
  usageText,
  type RunbookCommand,
} from './commands';
import { createContext, type SlackIngressContext } from './context';
import { answerIncidentCommand, type CommandAnswer } from './incidents';
import { parseInteraction, performClick } from './interactions';
import { startSocketMode, type SocketModeConnection, type SocketModeLiveness } from './socket-mode';
import { verifySlackSignature } from './verify';

export interface SlackRouteOptions {
  /** Clock for signature timestamps (tests). */
  now?: () => number;
  /** Slack client for ephemeral answers and user groups; built from the environment by default. */
  slack?: WebClient | null;
  fetch?: typeof fetch;
  log?: (message: string, extra?: Record<string, unknown>) => void;
  /** Receives the context once built, so tests and benchmarks can drain background work. */
  onContext?: (ctx: SlackIngressContext) => void;
  /** How long an `/incident` answer may take before it moves to response_url. */
  inlineAnswerMs?: number;
  /** Socket Mode's ping/pong timeouts (tests shorten them); the client's defaults otherwise. */
  socketMode?: SocketModeLiveness;
}

type SlackRouteDeps = AppDeps & { metrics: IngressMetrics };

const FORM = 'application/x-www-form-urlencoded';

export function createSlackRoutes(options: SlackRouteOptions = {}) {
  return async function registerSlackRoutes(app: FastifyInstance, deps: SlackRouteDeps): Promise<void> {
    const signingSecret = deps.env.SLACK_SIGNING_SECRET;
    const ctx = createContext({
      temporal: deps.client,
      env: deps.env,
      policy: deps.policy,
      incidentChannel: deps.env.FIREBREAK_SLACK_CHANNEL ?? deps.config.slack.channel,
      ...(options.slack !== undefined ? { slack: options.slack } : {}),
      metrics: deps.metrics,
      log: options.log ?? lineLog(app.log, 'slack', 'warn'),
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
    options.onContext?.(ctx);
    const now = options.now ?? Date.now;
    const inlineAnswerMs = options.inlineAnswerMs ?? 2_000;

    const count = (route: string, outcome: string) => deps.metrics.slackRequests.inc({ outcome, route });

    /** Verifies and returns the form, or answers (401/400/503) and returns undefined. */
    const admit = (route: string, request: FastifyRequest, reply: FastifyReply): URLSearchParams | undefined => {
      if (!signingSecret) {
        count(route, 'not_configured');
        void reply.status(503).send({ error: 'Slack is not configured: set SLACK_SIGNING_SECRET' });
        return undefined;
      }
      const rawBody = typeof request.body === 'string' ? request.body : '';
      const verdict = verifySlackSignature({
        signingSecret,
        timestamp: request.headers['x-slack-request-timestamp'],
        signature: request.headers['x-slack-signature'],
        rawBody,
        nowMs: now(),
      });
      if (!verdict.ok) {
        count(route, 'unverified');
        request.log.warn({ reason: verdict.reason }, 'Slack request refused');
        void reply.status(401).send({ error: `Slack request verification failed: ${verdict.reason}` });
        return undefined;
      }
      const contentType = String(request.headers['content-type'] ?? '');
      if (!contentType.startsWith(FORM)) {
        count(route, 'malformed');
        void reply.status(400).send({ error: `expected ${FORM}, as Slack sends` });
        return undefined;
      }
      return new URLSearchParams(rawBody);
    };

    await app.register(async (scope) => {
      // The raw bytes are what Slack signed: nothing is parsed before verification.
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('*', { parseAs: 'string' }, (request, body, done) => {
        request.rawBody = body.toString();
        done(null, request.rawBody);
      });

      scope.post('/slack/commands', async (request, reply) => {
        const form = admit('commands', request, reply);
        if (!form) return reply;
        const answer = await handleCommand(ctx, form, { inlineAnswerMs, count });
        return reply.status(answer.status).send(answer.body);
      });

      scope.post('/slack/interactions', async (request, reply) => {
        const form = admit('interactions', request, reply);
        if (!form) return reply;
        const answer = handleInteraction(ctx, form, count);
        return reply.status(answer.status).send(answer.body);
      });
    });

    if (deps.env.SLACK_APP_TOKEN) {
      const appToken = deps.env.SLACK_APP_TOKEN;
      let socket: SocketModeConnection | undefined;
      app.addHook('onReady', async () => {
        socket = startSocketMode({
          appToken,
          slackApiUrl: deps.env.SLACK_API_URL,
          logger: app.log,
          ...options.socketMode,
          onCommand: async (fields) => (await handleCommand(ctx, fields, { inlineAnswerMs, count })).body,
          onInteraction: async (fields) => {
            const answer = handleInteraction(ctx, fields, count);
            if (answer.status !== 200) ctx.log(`Socket Mode interaction refused: ${JSON.stringify(answer.body)}`);
          },
        });
      });
      app.addHook('onClose', async () => socket?.stop());
    }
    // After Socket Mode stopped taking envelopes: let started work finish (boundedly).
    app.addHook('onClose', async () => ctx.drain());
  };
}

export interface Answer {
  status: number;
  body?: unknown;
}

type Count = (route: string, outcome: string) => void;

/** A slash command, from the HTTP form or a Socket Mode envelope (same fields). */
export async function handleCommand(
  ctx: SlackIngressContext,
  form: URLSearchParams,
  options: { inlineAnswerMs: number; count: Count },
): Promise<Answer> {
  const { count } = options;
  const missing = ['command', 'user_id', 'channel_id'].filter((name) => !form.get(name));
  if (missing.length > 0) {
    count('commands', 'malformed');
    return { status: 400, body: { error: `not a slash command: missing ${missing.join(', ')}` } };
  }
  const command = form.get('command')!;
  const text = form.get('text') ?? '';
  const userName = form.get('user_name');
  const actor = await ctx.actorFor({ id: form.get('user_id')!, ...(userName ? { name: userName } : {}) });
  const responseUrl = form.get('response_url') ?? undefined;
  const channel = form.get('channel_id')!;
  const first = text.trim().split(/\s+/)[0] ?? '';
  // `/incident …` always; any other command name (e.g. `/firebreak`) by its first word.
  const isIncident =
    command === '/incident' ||
    (command !== '/runbook' && (INCIDENT_SUBCOMMANDS as readonly string[]).includes(first) && first !== 'help');
  count('commands', isIncident ? 'incident' : 'runbook');
  const body = isIncident
    ? await answerInline(ctx, options.inlineAnswerMs, responseUrl, () =>
        ctx.bounded(() => answerIncidentCommand(ctx, parseIncidentCommand(text), actor)),
      )
    : runbookCommand(ctx, parseRunbookCommand(text), { actor, channel, responseUrl, userName });
  return { status: 200, body };
}

/** A click (form field `payload`); the work runs after the acknowledgement. */
export function handleInteraction(ctx: SlackIngressContext, form: URLSearchParams, count: Count): Answer {
  const parsed = parseInteraction(form);
  if (parsed.kind === 'invalid') {
    count('interactions', 'malformed');
    return { status: 400, body: { error: parsed.message } };
  }
  count('interactions', parsed.kind);
  if (parsed.kind === 'actions') {
    for (const click of parsed.clicks) {
      ctx.background(`click ${click.actionId}`, () => performClick(ctx, parsed.payload, click));
    }
  }
  // An empty 200 is Slack's acknowledgement; the workflow updates the card.
  return { status: 200 };
}

/** The default module listed in ROUTE_MODULES: everything from the environment. */
export const registerSlackRoutes = createSlackRoutes();

/**
 * Validates synchronously (prepareIncident runs the runbook's schema) and answers at once; the
 * workflow start runs after the answer and reports through response_url.
 */
function runbookCommand(
  ctx: SlackIngressContext,
  command: RunbookCommand,
  request: { actor: Actor; channel: string; responseUrl?: string; userName: string | null },
): CommandAnswer {
  if (command.kind === 'catalog') return { response_type: 'ephemeral', text: catalogText() };
  if (command.kind === 'usage')
    return { response_type: 'ephemeral', text: usageText(command.runbook, command.problem) };
  const namespaces = [...new Set(command.targets.map((target) => target.namespace))];
  if (!mayStart(ctx.policy.access, request.actor, { runbook: command.runbook.id, namespaces })) {
    void ctx.refused('start', request.actor, `not in permissions.start for ${command.runbook.id}`);
    return {
      response_type: 'ephemeral',
      text: `:no_entry: You may not start *${escapeMrkdwn(command.runbook.title)}* in ${namespaces.map((ns) => `\`${escapeMrkdwn(ns)}\``).join(', ')}; nothing was started. Who may start what is set in FIREBREAK_CONFIG (permissions.start).`,
    };
  }
  let prepared;
  try {
    prepared = prepareIncident({
      runbook: command.runbook.id,
      targets: command.targets,
      ...(command.severity ? { severity: command.severity } : {}),
      params: command.params,
      trigger: {
        kind: 'slack',
        user: request.actor.id,
        ...(request.userName ? { userName: request.userName } : {}),
        channel: request.channel,
      },
      triggeredBy: request.actor,
      policy: ctx.policy,
      slackChannel: ctx.incidentChannel ?? request.channel,
      ...(command.rehearsal ? { rehearsal: command.rehearsal } : {}),
    });
  } catch (err) {
    if (err instanceof ApplicationFailure && err.type === ErrorType.INVALID_INPUT) {
      return { response_type: 'ephemeral', text: usageText(command.runbook, err.message) };
    }
    throw err;
  }
  const where = command.targets.map(formatTarget).join(', ');
  const { responseUrl } = request;
  const rehearsing = command.rehearsal ? `a REHEARSAL (dry run, nothing changes) of ` : '';
  ctx.background(`starting ${prepared.workflowId}`, async () => {
    let message: Record<string, unknown>;
    try {
      const outcome = await ctx.bounded(() => startIncident(ctx.temporal, prepared, ctx.taskQueue));
      const link = ctx.link(outcome.workflowId);
      const name = link ? `<${link}|${escapeMrkdwn(outcome.incidentId)}>` : escapeMrkdwn(outcome.incidentId);
      message = outcome.started
        ? {
            response_type: 'in_channel',
            replace_original: false,
            text: `${rehearsing ? ':performing_arts:' : ':rotating_light:'} <@${request.actor.id}> started ${rehearsing}*${escapeMrkdwn(command.runbook.title)}* on \`${escapeMrkdwn(where)}\`: incident ${name} (workflow \`${escapeMrkdwn(outcome.workflowId)}\`)`,
          }
        : {
            response_type: 'ephemeral',
            replace_original: false,
            text: `${rehearsing ? 'A rehearsal' : 'An incident'} is already open for ${escapeMrkdwn(command.runbook.title)} on \`${escapeMrkdwn(where)}\`: workflow ${link ? `<${link}|${escapeMrkdwn(outcome.workflowId)}>` : `\`${escapeMrkdwn(outcome.workflowId)}\``}. See \`/incident status ${escapeMrkdwn(outcome.workflowId)}\`.`,
          };
    } catch (err) {
      ctx.log(`starting ${prepared.workflowId} failed`, { error: (err as Error).message });
      message = {
        response_type: 'ephemeral',
        replace_original: false,
        text: `:x: Could not start ${escapeMrkdwn(command.runbook.title)} on \`${escapeMrkdwn(where)}\`: Temporal did not accept the workflow. Nothing was changed; try again or use the CLI.`,
      };
    }
    if (responseUrl) await ctx.respond(responseUrl, message);
  });
  return {
    response_type: 'ephemeral',
    text: `:hourglass_flowing_sand: Starting ${rehearsing}*${escapeMrkdwn(command.runbook.title)}* on \`${escapeMrkdwn(where)}\` (${prepared.input.severity})…`,
  };
}

/**
 * Answers in the HTTP response when the work is quick; otherwise acknowledges now and delivers the
 * answer through response_url when it is ready.
 */
async function answerInline(
  ctx: SlackIngressContext,
  budgetMs: number,
  responseUrl: string | undefined,
  work: () => Promise<CommandAnswer>,
): Promise<CommandAnswer> {
  const failed = (err: unknown): CommandAnswer => {
    ctx.log('incident command failed', { error: (err as Error)?.message });
    return { response_type: 'ephemeral', text: ':x: Firebreak could not reach Temporal; try again shortly.' };
  };
  const result = work().catch(failed);
  const late = Symbol('late');
  const answered = new AbortController();
  const first = await Promise.race([result, sleep(budgetMs, late, { signal: answered.signal })]);
  answered.abort();
  if (first !== late) return first;
  if (responseUrl) {
    ctx.background('late /incident answer', async () =>
      ctx.respond(responseUrl, { ...(await result), replace_original: false }),
    );
  }
  return { response_type: 'ephemeral', text: ':hourglass_flowing_sand: Working on it…' };
}

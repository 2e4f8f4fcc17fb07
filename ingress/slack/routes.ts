/**
 * `POST /slack/commands` and `POST /slack/interactions`. Each request is verified on its raw
 * bytes before anything is parsed (a bad or missing signature, or a timestamp more than 300 s
 * away, is a 401 and nothing starts), then acknowledged well within Slack's 3 s: slow work —
 * starting a workflow, running an update — happens after the answer, and its outcome reaches
 * the user through `response_url` or an ephemeral message.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { WebClient } from '@slack/web-api';
import { lineLog } from '../../config/logger';
import type { AppDeps } from '../app';
import type { IngressMetrics } from '../metrics';
import { INCIDENT_SUBCOMMANDS, parseIncidentCommand } from './commands';
import { createContext, type SlackIngressContext } from './context';
import { answerIncidentCommand, type CommandAnswer } from './incidents';
import { parseInteraction, performClick } from './interactions';
import { recoverPendingCommands, runbookCommand } from './starts';
import { startSocketMode, type SocketModeConnection, type SocketModeLiveness } from './socket-mode';
import { verifySlackSignature } from './verify';

export interface SlackRouteOptions {
  /** Clock for signature timestamps (tests). */
  now?: () => number;
  /** Slack client for ephemeral answers and user groups; built from the environment by default. */
  slack?: WebClient | null;
  log?: (message: string, extra?: Record<string, unknown>) => void;
  /** Receives the context once built, so tests and benchmarks can drain background work. */
  onContext?: (ctx: SlackIngressContext) => void;
  /** How long an `/incident` answer may take before it moves to response_url. */
  inlineAnswerMs?: number;
  /** Where acknowledged `/runbook` commands wait for their start; `<FIREBREAK_DATA_DIR>/slack-commands` by default. */
  pendingDir?: string;
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
      ...(options.pendingDir ? { pendingDir: options.pendingDir } : {}),
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
    // Commands a previous process acknowledged and did not see through (starts.ts).
    app.addHook('onReady', async () => {
      const recovered = await recoverPendingCommands(ctx);
      if (recovered > 0) ctx.log(`taking back ${recovered} acknowledged /runbook command(s) from before a restart`);
    });
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
  const receivedAt = Date.now();
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
    : await runbookCommand(ctx, {
        actor,
        channel,
        userName,
        command,
        text,
        receivedAt,
        ...(responseUrl ? { responseUrl } : {}),
      });
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

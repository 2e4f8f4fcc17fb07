/**
 * `/runbook …`: validated and acknowledged at once, whatever Temporal's latency; the incident is
 * started after the acknowledgement and its outcome — started, already open, or not started and
 * why — reaches the person through the command's response_url.
 *
 * Acknowledged as starting means recorded first (pending.ts): a command whose ingress dies before
 * the start is started, or explained, by the next ingress on the same data directory
 * (`recoverPendingCommands`), and reported the same way.
 */
import { ApplicationFailure, NamespaceNotFoundError } from '@temporalio/common';
import { WorkflowNotFoundError } from '@temporalio/client';
import { STARTED_BY_MEMO, startIncident } from '../../client/incidents';
import { ErrorType } from '../../common/errors';
import { formatTarget } from '../../common/ids';
import type { Actor } from '../../common/types';
import { mayStart } from '../../domain/access';
import { escapeMrkdwn } from '../../domain/slack/mrkdwn';
import { prepareIncident, type PreparedIncident, type RunbookDefinition } from '../../runbooks';
import { catalogText, parseRunbookCommand, usageText, type RunbookCommand } from './commands';
import type { SlackIngressContext } from './context';
import type { CommandAnswer } from './incidents';
import { PendingCommandJournal, type PendingCommand } from './pending';

/**
 * A command older than this when its ingress comes back is not started: a remediation nobody is
 * waiting for any more is worse than asking again. The person is told either way.
 */
export const RECOVERY_WINDOW_MS = 10 * 60_000;
const RESPONSE_ATTEMPTS = 3;
/**
 * Starts in flight at once per ingress. A burst of commands queues its starts here rather than
 * opening hundreds of Temporal calls at once on the event loop that must keep answering Slack.
 */
const START_CONCURRENCY = 16;
const startSlots = new WeakMap<SlackIngressContext, Slots>();

/** A counting semaphore: `run` waits for a free slot. */
class Slots {
  private free: number;
  private readonly waiting: Array<() => void> = [];

  constructor(size: number) {
    this.free = size;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    }
  }
}

function slotsOf(ctx: SlackIngressContext): Slots {
  let slots = startSlots.get(ctx);
  if (!slots) startSlots.set(ctx, (slots = new Slots(START_CONCURRENCY)));
  return slots;
}

export interface RunbookRequest {
  actor: Actor;
  channel: string;
  responseUrl?: string;
  userName: string | null;
  /** The form's `command` and `text`, kept to start again after a restart. */
  command: string;
  text: string;
  receivedAt: number;
}

type Planned =
  | { kind: 'answer'; answer: CommandAnswer }
  | { kind: 'start'; prepared: PreparedIncident; runbook: RunbookDefinition; where: string; rehearsing: string };

/** What a parsed command asks for: an answer now, or an incident to start (permission and schema checked). */
function plan(ctx: SlackIngressContext, command: RunbookCommand, request: RunbookRequest): Planned {
  const answer = (text: string): Planned => ({ kind: 'answer', answer: { response_type: 'ephemeral', text } });
  if (command.kind === 'catalog') return answer(catalogText());
  if (command.kind === 'usage') return answer(usageText(command.runbook, command.problem));
  const namespaces = [...new Set(command.targets.map((target) => target.namespace))];
  if (!mayStart(ctx.policy.access, request.actor, { runbook: command.runbook.id, namespaces })) {
    void ctx.refused('start', request.actor, `not in permissions.start for ${command.runbook.id}`);
    return answer(
      `:no_entry: You may not start *${escapeMrkdwn(command.runbook.title)}* in ${namespaces.map((ns) => `\`${escapeMrkdwn(ns)}\``).join(', ')}; nothing was started. Who may start what is set in FIREBREAK_CONFIG (permissions.start).`,
    );
  }
  try {
    const prepared = prepareIncident({
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
      // The incident id derives from it: a start repeated after a restart is recognised as the same.
      now: new Date(request.receivedAt),
      ...(command.rehearsal ? { rehearsal: command.rehearsal } : {}),
    });
    return {
      kind: 'start',
      prepared,
      runbook: command.runbook,
      where: command.targets.map(formatTarget).join(', '),
      rehearsing: command.rehearsal ? 'a REHEARSAL (dry run, nothing changes) of ' : '',
    };
  } catch (err) {
    if (err instanceof ApplicationFailure && err.type === ErrorType.INVALID_INPUT) {
      return answer(usageText(command.runbook, err.message));
    }
    throw err;
  }
}

/**
 * Answers a `/runbook` command within Slack's budget: records it, acknowledges it, and starts the
 * incident after the answer.
 */
export async function runbookCommand(ctx: SlackIngressContext, request: RunbookRequest): Promise<CommandAnswer> {
  const planned = plan(ctx, parseRunbookCommand(request.text), request);
  if (planned.kind === 'answer') return planned.answer;
  const entry = pendingEntry(ctx, request);
  try {
    await ctx.pending.record(entry);
  } catch (err) {
    ctx.log('recording a /runbook command failed', { error: (err as Error).message });
    return {
      response_type: 'ephemeral',
      text: `:x: Firebreak could not record the request, so nothing was started: ${escapeMrkdwn((err as Error).message)}. Try again shortly or use the CLI.`,
    };
  }
  ctx.background(`starting ${planned.prepared.workflowId}`, () => startAndReport(ctx, entry, planned, false));
  return {
    response_type: 'ephemeral',
    text: `:hourglass_flowing_sand: Starting ${planned.rehearsing}*${escapeMrkdwn(planned.runbook.title)}* on \`${escapeMrkdwn(planned.where)}\` (${planned.prepared.input.severity})…`,
  };
}

function pendingEntry(ctx: SlackIngressContext, request: RunbookRequest): PendingCommand {
  return {
    id: PendingCommandJournal.newId(request.receivedAt),
    receivedAt: request.receivedAt,
    taskQueue: ctx.taskQueue,
    namespace: ctx.namespace,
    command: request.command,
    text: request.text,
    userId: request.actor.id,
    ...(request.userName ? { userName: request.userName } : {}),
    channelId: request.channel,
    ...(request.responseUrl ? { responseUrl: request.responseUrl } : {}),
  };
}

/**
 * Commands a previous process acknowledged but did not see through: each is started (when still
 * recent) or explained, and reported through its response_url. Runs in the background.
 */
export async function recoverPendingCommands(ctx: SlackIngressContext): Promise<number> {
  const entries = await ctx.pending.list({ taskQueue: ctx.taskQueue, namespace: ctx.namespace });
  for (const entry of entries) {
    ctx.background(`recovering the /runbook command of ${entry.userId}`, () => recoverCommand(ctx, entry));
  }
  return entries.length;
}

async function recoverCommand(ctx: SlackIngressContext, entry: PendingCommand): Promise<void> {
  const asked = `\`${escapeMrkdwn(`${entry.command} ${entry.text}`.trim())}\``;
  const at = new Date(entry.receivedAt).toISOString().replace('T', ' ').slice(0, 19);
  const age = Date.now() - entry.receivedAt;
  if (age > RECOVERY_WINDOW_MS) {
    await report(ctx, entry, {
      response_type: 'ephemeral',
      replace_original: false,
      text: `:warning: Firebreak restarted before it could start ${asked} (asked at ${at} UTC), and ${Math.round(age / 60_000)} min later it is too late to start it unasked: nothing was started. Run it again if it is still needed.`,
    });
    return;
  }
  const actor = await ctx.actorFor({ id: entry.userId, ...(entry.userName ? { name: entry.userName } : {}) });
  const request: RunbookRequest = {
    actor,
    channel: entry.channelId,
    userName: entry.userName ?? null,
    command: entry.command,
    text: entry.text,
    receivedAt: entry.receivedAt,
    ...(entry.responseUrl ? { responseUrl: entry.responseUrl } : {}),
  };
  const planned = plan(ctx, parseRunbookCommand(entry.text), request);
  if (planned.kind === 'answer') {
    await report(ctx, entry, {
      response_type: 'ephemeral',
      replace_original: false,
      text: `:warning: Firebreak restarted before it could start ${asked}, and now cannot: nothing was started.\n${planned.answer.text}`,
    });
    return;
  }
  await startAndReport(ctx, entry, planned, true);
}

async function startAndReport(
  ctx: SlackIngressContext,
  entry: PendingCommand,
  planned: Extract<Planned, { kind: 'start' }>,
  restarted: boolean,
): Promise<void> {
  const { prepared, runbook, where, rehearsing } = planned;
  const { workflowId } = prepared;
  const incidentId = prepared.input.incidentId;
  const late = restarted ? ' (after Firebreak restarted)' : '';
  const link = ctx.link(workflowId);
  const workflow = link ? `<${link}|${escapeMrkdwn(workflowId)}>` : `\`${escapeMrkdwn(workflowId)}\``;
  const startedText = () => {
    const name = link ? `<${link}|${escapeMrkdwn(incidentId)}>` : escapeMrkdwn(incidentId);
    return `${rehearsing ? ':performing_arts:' : ':rotating_light:'} <@${entry.userId}> started ${rehearsing}*${escapeMrkdwn(runbook.title)}* on \`${escapeMrkdwn(where)}\`${late}: incident ${name} (workflow \`${escapeMrkdwn(workflowId)}\`)`;
  };
  let message: Record<string, unknown>;
  try {
    const outcome = await slotsOf(ctx).run(() =>
      ctx.bounded(() => startIncident(ctx.temporal, prepared, ctx.taskQueue, entry.id)),
    );
    // Already running may be this very command, started before a restart: the memo says.
    const ours = outcome.started || (await startedAs(ctx, workflowId, entry.id)) === true;
    message = ours
      ? { response_type: 'in_channel', replace_original: false, text: startedText() }
      : {
          response_type: 'ephemeral',
          replace_original: false,
          text: `${rehearsing ? 'A rehearsal' : 'An incident'} is already open for ${escapeMrkdwn(runbook.title)} on \`${escapeMrkdwn(where)}\`: workflow ${workflow}. See \`/incident status ${escapeMrkdwn(workflowId)}\`.`,
        };
  } catch (err) {
    ctx.log(`starting ${workflowId} failed`, { error: (err as Error).message });
    // A start whose answer was lost (deadline, broken connection) may still have happened.
    const ours = await startedAs(ctx, workflowId, entry.id);
    message =
      ours === true
        ? { response_type: 'in_channel', replace_original: false, text: startedText() }
        : {
            response_type: 'ephemeral',
            replace_original: false,
            text:
              ours === false
                ? `:x: Could not start ${escapeMrkdwn(runbook.title)} on \`${escapeMrkdwn(where)}\`${late}: Temporal did not accept the workflow. Nothing was changed; try again or use the CLI.`
                : `:x: Could not confirm that ${escapeMrkdwn(runbook.title)} started on \`${escapeMrkdwn(where)}\`${late}: Temporal is not answering. Check \`/incident status ${escapeMrkdwn(workflowId)}\` before trying again.`,
          };
  }
  await report(ctx, entry, message);
}

/**
 * Whether the running execution of `workflowId` was started by pending command `commandId` (its
 * memo; two commands in the same second make the same incident id, so that id cannot tell);
 * undefined when Temporal cannot say.
 */
async function startedAs(
  ctx: SlackIngressContext,
  workflowId: string,
  commandId: string,
): Promise<boolean | undefined> {
  try {
    const description = await ctx.bounded(() => ctx.temporal.workflow.getHandle(workflowId).describe());
    return description.memo?.[STARTED_BY_MEMO] === commandId;
  } catch (err) {
    return err instanceof WorkflowNotFoundError || err instanceof NamespaceNotFoundError ? false : undefined;
  }
}

/**
 * Delivers the outcome through response_url (retried: Slack accepts five posts in 30 minutes), else
 * as an ephemeral message from the bot; then the pending entry is done.
 */
async function report(
  ctx: SlackIngressContext,
  entry: PendingCommand,
  message: Record<string, unknown>,
): Promise<void> {
  let delivered = false;
  for (let attempt = 1; entry.responseUrl && !delivered && attempt <= RESPONSE_ATTEMPTS; attempt++) {
    delivered = await ctx.respond(entry.responseUrl, message).then(
      () => true,
      (err: unknown) => {
        ctx.log(`response_url post ${attempt} failed`, { error: (err as Error).message });
        return false;
      },
    );
    if (!delivered && attempt < RESPONSE_ATTEMPTS) await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
  }
  if (!delivered && ctx.slack) {
    await ctx.slack.chat
      .postEphemeral({ channel: entry.channelId, user: entry.userId, text: String(message.text) })
      .catch((err: unknown) => ctx.log('the ephemeral fallback failed too', { error: (err as Error).message }));
  }
  await ctx.pending.remove(entry.id);
}

/**
 * `/incident list|status|ack|resolve` over Temporal: visibility (the Firebreak search attributes)
 * to find incidents, and the kernel's message definitions to act on them.
 */
import {
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type WorkflowExecutionInfo,
  type WorkflowHandle,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { actorText, escapeMrkdwn, safeText, slackDate } from '../../domain/slack/mrkdwn';
import { ErrorType } from '../../common/errors';
import { parseTarget, formatTarget } from '../../common/ids';
import { runbookKey, severityKey, statusKey } from '../../common/search-attributes';
import type { Actor, IncidentRecord } from '../../common/types';
import { findIncidentById, isPermissionRefusal } from '../../client/incidents';
import { mayAct } from '../../domain/access';
import { isAuthorized } from '../../domain/gates';
import { acknowledgeUpdate, cancelUpdate, resolveSignal, statusQuery } from '../../domain/messages';
import type { IncidentCommand } from './commands';
import { incidentHelpText } from './commands';
import type { SlackIngressContext } from './context';

const LIST_LIMIT = 20;
const ACTIVE = "FirebreakStatus IN ('open', 'acknowledged', 'mitigated')";

export interface CommandAnswer {
  response_type: 'ephemeral' | 'in_channel';
  text: string;
}

const ephemeral = (text: string): CommandAnswer => ({ response_type: 'ephemeral', text });

/** Finds the workflow an id names: a workflow id, an incident id (INC-…), or `<ns>/<deployment>` of an open incident. */
export async function findIncident(
  ctx: SlackIngressContext,
  id: string,
): Promise<{ handle: WorkflowHandle; record: IncidentRecord } | string> {
  const tryHandle = async (workflowId: string) => {
    const handle = ctx.temporal.workflow.getHandle(workflowId);
    try {
      return { handle, record: await handle.query(statusQuery) };
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
  };
  if (/^(incident|alert|rehearsal):/.test(id)) return (await tryHandle(id)) ?? `no incident with workflow id ${id}`;

  const target = parseTarget(id);
  if (target) {
    const open = await list(ctx, `${ACTIVE} AND FirebreakTarget = '${formatTarget(target)}'`, 3);
    // A rehearsal beside a real incident on the same deployment: the name means the real one.
    const real = open.filter((f) => !f.workflowId.startsWith('rehearsal:'));
    const found = real.length > 0 ? real : open;
    if (found.length === 0) return `no open incident on ${formatTarget(target)}`;
    if (found.length > 1)
      return `several open incidents on ${formatTarget(target)}: ${found.map((f) => f.workflowId).join(', ')}`;
    return (await tryHandle(found[0]!.workflowId)) ?? `no open incident on ${formatTarget(target)}`;
  }

  if (!id.startsWith('INC-')) return `"${id}" is not an incident id (INC-…), a workflow id or <namespace>/<deployment>`;
  const found = await findIncidentById(ctx.temporal, id).catch(() => undefined);
  if (found) {
    const handle = ctx.temporal.workflow.getHandle(found.workflowId, found.runId);
    const record = await handle.query(statusQuery).catch(() => undefined);
    if (record?.id === id) return { handle, record };
  }
  return `no incident ${id}`;
}

async function list(ctx: SlackIngressContext, query: string, limit: number): Promise<WorkflowExecutionInfo[]> {
  const found: WorkflowExecutionInfo[] = [];
  for await (const info of ctx.temporal.workflow.list({ query, pageSize: limit })) {
    found.push(info);
    if (found.length >= limit) break;
  }
  return found;
}

export async function answerIncidentCommand(
  ctx: SlackIngressContext,
  command: IncidentCommand,
  actor: Actor,
): Promise<CommandAnswer> {
  switch (command.kind) {
    case 'help':
      return ephemeral(incidentHelpText(command.problem));
    case 'list': {
      const query = command.all ? 'ExecutionStatus = "Running" AND FirebreakRunbook IS NOT NULL' : ACTIVE;
      const infos = await list(ctx, query, LIST_LIMIT);
      if (infos.length === 0) return ephemeral(command.all ? 'No incident is running.' : 'No open incident.');
      const lines = infos.map((info) => {
        const attrs = info.typedSearchAttributes;
        const link = ctx.link(info.workflowId);
        const name = link ? `<${link}|${escapeMrkdwn(info.workflowId)}>` : `\`${escapeMrkdwn(info.workflowId)}\``;
        return (
          `• ${attrs.get(severityKey) ?? '?'} ${name} — ${escapeMrkdwn(attrs.get(runbookKey) ?? '?')}, ` +
          `${escapeMrkdwn(attrs.get(statusKey) ?? '?')}, since ${slackDate(info.startTime.toISOString())}`
        );
      });
      return ephemeral(`*${command.all ? 'Running' : 'Open'} incidents* (${infos.length})\n${lines.join('\n')}`);
    }
    case 'status': {
      if (!command.id) return ephemeral(incidentHelpText('which incident? /incident status <id>'));
      const found = await findIncident(ctx, command.id);
      if (typeof found === 'string') return ephemeral(`:warning: ${escapeMrkdwn(found)}`);
      return ephemeral(statusText(ctx, found.handle.workflowId, found.record));
    }
    case 'ack': {
      const found = await findIncident(ctx, command.id);
      if (typeof found === 'string') return ephemeral(`:warning: ${escapeMrkdwn(found)}`);
      try {
        const record = await found.handle.executeUpdate(acknowledgeUpdate, {
          args: [{ actor, ...(command.note ? { note: command.note } : {}) }],
        });
        const by = record.acknowledgedBy?.id === actor.id ? 'you' : actorText(record.acknowledgedBy);
        return {
          response_type: 'in_channel',
          text: `:eyes: Incident ${escapeMrkdwn(record.id)} acknowledged by ${by === 'you' ? actorText(actor) : `${by} (already)`}; escalation stopped.`,
        };
      } catch (err) {
        if (isPermissionRefusal(err)) await ctx.refused('acknowledge', actor, explainRefusal(err), found.handle);
        return ephemeral(`:warning: ${escapeMrkdwn(explainRefusal(err))}`);
      }
    }
    case 'resolve': {
      const found = await findIncident(ctx, command.id);
      if (typeof found === 'string') return ephemeral(`:warning: ${escapeMrkdwn(found)}`);
      if (['resolved', 'failed', 'cancelled'].includes(found.record.status)) {
        return ephemeral(`Incident ${escapeMrkdwn(found.record.id)} is already ${found.record.status}.`);
      }
      if (!(await mayResolve(ctx, actor))) {
        await ctx.refused('resolve', actor, 'not allowed to resolve', found.handle);
        return ephemeral(
          `:no_entry: you may not resolve incident ${escapeMrkdwn(found.record.id)}: resolving withdraws its pending ` +
            'approvals and restores its mitigations. Who may is configured in FIREBREAK_CONFIG ' +
            '(permissions.resolve, else approvers.users and approvers.groups).',
        );
      }
      await found.handle.signal(resolveSignal, { actor, ...(command.note ? { note: command.note } : {}) });
      return {
        response_type: 'in_channel',
        text: `:large_green_circle: ${actorText(actor)} resolved incident ${escapeMrkdwn(found.record.id)}; mitigations are restored per policy.`,
      };
    }
    case 'cancel':
      return cancelIncident(ctx, command, actor);
  }
}

/** The kernel's validator decides who may cancel; the ingress only brings the actor's approver groups. */
async function cancelIncident(
  ctx: SlackIngressContext,
  command: Extract<IncidentCommand, { kind: 'cancel' }>,
  actor: Actor,
): Promise<CommandAnswer> {
  const found = await findIncident(ctx, command.id);
  if (typeof found === 'string') return ephemeral(`:warning: ${escapeMrkdwn(found)}`);
  const { groups } = ctx.policy.approvers;
  const withGroups = groups.length > 0 ? { ...actor, groups: await ctx.groups.groupsOf(actor.id, groups) } : actor;
  try {
    const request = {
      actor: withGroups,
      restoreNow: command.restoreNow,
      ...(command.reason ? { reason: command.reason } : {}),
    };
    const record = await found.handle.executeUpdate(cancelUpdate, { args: [request] });
    const why = command.reason ? `: ${escapeMrkdwn(command.reason)}` : '';
    const restore = command.restoreNow ? 'restoring its mitigations now' : 'offering to restore its mitigations';
    return {
      response_type: 'in_channel',
      text: `:octagonal_sign: ${actorText(actor)} cancelled incident ${escapeMrkdwn(record.id)}${why} — stopping the runbook, ${restore}, resolving its pages.`,
    };
  } catch (err) {
    if (isPermissionRefusal(err)) await ctx.refused('cancel', actor, explainRefusal(err), found.handle);
    return ephemeral(`:warning: ${escapeMrkdwn(explainRefusal(err))}`);
  }
}

/**
 * Resolving withdraws the incident's pending gates (a rejection in all but name) and sets off the
 * restoration of its mitigations, so once approvers are configured it is theirs alone — otherwise
 * anyone in the channel could undo a decision only approvers may make. Acknowledging stays open:
 * it only stops escalation. Group membership fails closed, as for gate decisions.
 */
async function mayResolve(ctx: SlackIngressContext, actor: Actor): Promise<boolean> {
  const { access, approvers } = ctx.policy;
  if (access?.resolve) return mayAct(access, 'resolve', actor);
  return isAuthorized(actor, approvers, access);
}

export function statusText(ctx: SlackIngressContext, workflowId: string, record: IncidentRecord): string {
  const link = ctx.link(workflowId);
  const pending = record.gates.filter((g) => g.status === 'pending').map((g) => `\`${escapeMrkdwn(g.name)}\``);
  const last = record.timeline.slice(-3).map((e) => `> ${slackDate(e.at, '{time_secs}')} ${safeText(e.message, 300)}`);
  return [
    `*${record.severity} ${escapeMrkdwn(record.title)}* — ${record.status}`,
    `Incident ${escapeMrkdwn(record.id)} · workflow ${link ? `<${link}|${escapeMrkdwn(workflowId)}>` : `\`${escapeMrkdwn(workflowId)}\``}`,
    `Opened ${slackDate(record.openedAt)}; acknowledged: ${record.acknowledgedAt ? actorText(record.acknowledgedBy) : 'not yet'}`,
    ...(record.currentStep ? [`Now: ${safeText(record.currentStep, 300)}`] : []),
    ...(pending.length ? [`Waiting for approval: ${pending.join(', ')}`] : []),
    ...(record.outcome ? [`Outcome: ${safeText(record.outcome, 500)}`] : []),
    ...last,
  ].join('\n');
}

/** The kernel's validators say why they refuse; people get the reason, not a stack. */
export function explainRefusal(err: unknown): string {
  if (err instanceof WorkflowNotFoundError) return 'this incident is no longer running';
  const cause = err instanceof WorkflowUpdateFailedError ? err.cause : err;
  if (cause instanceof ApplicationFailure) {
    switch (cause.type) {
      case ErrorType.UNAUTHORIZED:
        return `you may not do this: ${cause.message}. Who may is configured in FIREBREAK_CONFIG (permissions, approvers).`;
      case ErrorType.ALREADY_APPROVED:
        return `${cause.message} (quorum: people, not accounts, are counted)`;
      case ErrorType.SELF_APPROVAL:
        return `${cause.message} (four-eyes rule)`;
      case ErrorType.GATE_CLOSED:
        return `too late: ${cause.message}`;
      case ErrorType.INCIDENT_CLOSED:
        return `too late: ${cause.message}`;
      default:
        return cause.message;
    }
  }
  return `could not reach the incident (${(err as Error)?.message ?? String(err)})`;
}

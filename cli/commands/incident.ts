/**
 * The commands on one incident: `status` (live from a worker, else from its history), `ack`,
 * `approve` / `reject` a gate, `resolve`. Each reaches the incident only through the message
 * contract in domain/messages.ts, exactly as Slack does.
 */
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { IncidentRecord } from '../../common/types';
import { acknowledgeUpdate, decideUpdate, resolveSignal, statusQuery } from '../../domain/messages';
import { fetchHistoryEvents, latestRecord } from '../../postmortem';
import { incidentBuild, type IncidentBuild } from '../../postmortem/history';
import { JSON_FLAG, oneId } from '../args';
import type { AccessAction } from '../../common/access';
import { isPermissionRefusal } from '../../client/incidents';
import { mayAct } from '../../domain/access';
import { isAuthorized } from '../../domain/gates';
import {
  CommandFailed,
  explain,
  resolveIncident,
  type Command,
  type CommandContext,
  type IncidentRef,
} from '../context';
import { quote, renderRecord } from '../format';

export const status: Command = {
  name: 'status',
  summary: 'Show an incident: status, step, gates, mitigations, recent timeline',
  usage: 'firebreak status <id> [--json]   (<id>: workflow id or INC-... incident id)',
  options: { ...JSON_FLAG },
  async run(ctx, args) {
    const ref = await resolveIncident(ctx, oneId(this, args));
    const client = await ctx.client();
    const { record, live, build } = await currentRecord(client, ref);
    if (!record) throw new CommandFailed(`${ref.workflowId} has no incident record yet; try again in a moment`);
    if (ctx.json) {
      ctx.printJson({ ...record, ...(build ? { build } : {}) });
      return 0;
    }
    ctx.out(renderRecord(record, ref.workflowId));
    ctx.out(`Build: ${build ? `${build.buildId} (deployment ${build.deploymentName})` : 'unversioned'}`);
    if (!live) ctx.out('\n(no worker answered: showing the last state recorded in the history)');
    return 0;
  },
};

/**
 * A closed incident's record is its result; a running one answers the status query, and when no
 * worker is there to answer, the last snapshot in its history stands in.
 */
async function currentRecord(
  client: Client,
  ref: IncidentRef,
): Promise<{ record?: IncidentRecord; live: boolean; build?: IncidentBuild }> {
  const handle = client.workflow.getHandle(ref.workflowId, ref.runId);
  try {
    const description = await handle.describe();
    // The build the incident is pinned to, as the server routes it.
    const version = description.raw.workflowExecutionInfo?.versioningInfo?.deploymentVersion;
    const pinned = version?.buildId
      ? { deploymentName: version.deploymentName ?? '', buildId: version.buildId }
      : undefined;
    if (description.status.name === 'RUNNING') {
      try {
        const record = await client.withDeadline(Date.now() + 5_000, () => handle.query(statusQuery));
        return { record, live: true, ...(pinned ? { build: pinned } : {}) };
      } catch {
        // Fall through to the history.
      }
    }
    const events = await fetchHistoryEvents(client, ref.workflowId, description.runId);
    const build = pinned ?? incidentBuild(events);
    return { record: latestRecord(events), live: false, ...(build ? { build } : {}) };
  } catch (err) {
    throw explain(err, ref.workflowId);
  }
}

export const ack: Command = {
  name: 'ack',
  summary: 'Acknowledge an incident (stops escalation)',
  usage: 'firebreak ack <id> [--note <text>] [--json]',
  options: { ...JSON_FLAG, note: { type: 'string' } },
  async run(ctx, args) {
    const ref = await resolveIncident(ctx, oneId(this, args));
    const client = await ctx.client();
    const note = args.values.note;
    const handle = await runningIncident(client, ref);
    const actor = await ctx.actor();
    const record = await handle
      .executeUpdate(acknowledgeUpdate, { args: [{ actor, ...(typeof note === 'string' ? { note } : {}) }] })
      .catch((err: unknown) => refusedOrExplained(ctx, 'acknowledge', err, handle));
    if (ctx.json) ctx.printJson(record);
    else {
      const by = record.acknowledgedBy?.name ?? record.acknowledgedBy?.id ?? '?';
      ctx.out(`Acknowledged ${record.id} (by ${by} at ${record.acknowledgedAt}); status ${record.status}`);
    }
    return 0;
  },
};

/** Messages only reach a running incident; a closed one gets a plain answer instead of NotFound. */
export async function runningIncident(client: Client, ref: IncidentRef): Promise<WorkflowHandle> {
  const handle = client.workflow.getHandle(ref.workflowId);
  const description = await handle.describe().catch((err: unknown) => {
    throw explain(err, ref.workflowId);
  });
  if (description.status.name !== 'RUNNING') {
    throw new CommandFailed(
      `${ref.workflowId} is already closed (${description.status.name.toLowerCase()}); see \`firebreak status ${quote(ref.workflowId)}\``,
    );
  }
  return handle;
}

/** A refusal for want of permission is recorded on the incident; every failure is explained. */
export async function refusedOrExplained(
  ctx: CommandContext,
  action: AccessAction,
  err: unknown,
  handle: WorkflowHandle,
): Promise<never> {
  const explained = explain(err, handle.workflowId);
  if (isPermissionRefusal(err)) await ctx.refuse(action, explained.message.replace(/^refused: /, ''), handle);
  throw explained;
}

export function decideCommand(decision: 'approve' | 'reject'): Command {
  return {
    name: decision,
    summary: decision === 'approve' ? 'Approve a pending gate' : 'Reject a pending gate',
    usage: `firebreak ${decision} <id> [--gate <name>] [--choice <value>] [--comment <text>] [--json]\n  --gate may be left out when exactly one gate is pending.`,
    options: { ...JSON_FLAG, gate: { type: 'string' }, choice: { type: 'string' }, comment: { type: 'string' } },
    async run(ctx, args) {
      const ref = await resolveIncident(ctx, oneId(this, args));
      const client = await ctx.client();
      const { gate, choice, comment } = args.values;
      const handle = await runningIncident(client, ref);
      const actor = await ctx.actor();
      const state = await handle
        .executeUpdate(decideUpdate, {
          args: [
            {
              decision,
              actor,
              ...(typeof gate === 'string' ? { gate } : {}),
              ...(typeof choice === 'string' ? { choice } : {}),
              ...(typeof comment === 'string' ? { comment } : {}),
            },
          ],
        })
        .catch((err: unknown) => refusedOrExplained(ctx, 'approve', err, handle));
      if (ctx.json) ctx.printJson(state);
      else if (state.status === 'pending' && state.quorum) {
        ctx.out(
          `Approval of gate ${state.name} recorded: ${state.approvals?.length ?? 0} of ${state.quorum} on ${ref.workflowId}`,
        );
      } else
        ctx.out(`Gate ${state.name} ${state.status}${state.choice ? ` (${state.choice})` : ''} on ${ref.workflowId}`);
      return 0;
    },
  };
}

export const resolve: Command = {
  name: 'resolve',
  summary: 'Mark an incident resolved (mitigations are then restored per policy)',
  usage: 'firebreak resolve <id> [--note <text>] [--json]',
  options: { ...JSON_FLAG, note: { type: 'string' } },
  async run(ctx, args) {
    const ref = await resolveIncident(ctx, oneId(this, args));
    const client = await ctx.client();
    const handle = await runningIncident(client, ref);
    const note = args.values.note;
    const actor = await ctx.actor();
    const policy = await ctx.policy();
    const allowed = policy.access?.resolve
      ? mayAct(policy.access, 'resolve', actor)
      : isAuthorized(actor, policy.approvers, policy.access);
    if (!allowed) await ctx.refuse('resolve', `${actor.id} may not resolve ${ref.workflowId}`, handle);
    await handle
      .signal(resolveSignal, { actor, ...(typeof note === 'string' ? { note } : {}) })
      .catch((err: unknown) => {
        throw explain(err, ref.workflowId);
      });
    if (ctx.json) ctx.printJson({ workflowId: ref.workflowId, resolveRequested: true });
    else ctx.out(`Resolution requested for ${ref.workflowId}; the runbook restores temporary mitigations per policy.`);
    return 0;
  },
};

/**
 * The `firebreak` commands. Each talks to incidents only through the Temporal client and the
 * message definitions exported beside the workflows, exactly as the Slack ingress does.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApplicationFailure } from '@temporalio/common';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { z } from 'zod';
import { startIncident } from '../client/incidents';
import { parseDuration } from '../common/duration';
import { ErrorType } from '../common/errors';
import { formatTarget, parseTarget } from '../common/ids';
import { runbookKey, severityKey, statusKey, targetKey, incidentIdKey } from '../common/search-attributes';
import { CLOSED_STATUSES, SEVERITIES, type IncidentRecord, type Severity, type Target } from '../common/types';
import { incidentPolicy, loadFileConfig } from '../config/file';
import { exportPostmortem, fetchHistoryEvents, latestRecord } from '../postmortem';
import { findRunbook, prepareIncident, RUNBOOKS } from '../runbooks';
import { acknowledgeUpdate, decideUpdate, resolveSignal, statusQuery } from '../domain/messages';
import {
  CommandFailed,
  UsageError,
  explain,
  resolveIncident,
  type Command,
  type CommandContext,
  type IncidentRef,
  type ParsedArgs,
} from './context';
import { approvalHint, quote, renderRecord, table, timelineLine } from './format';

const JSON_FLAG = { json: { type: 'boolean' } } as const;

// ---- runbooks -----------------------------------------------------------------------------------

const runbooks: Command = {
  name: 'runbooks',
  summary: 'List the runbooks, their parameters and approval gates',
  usage: 'firebreak runbooks [--json]',
  options: { ...JSON_FLAG },
  async run(ctx, args) {
    noPositionals(this, args);
    const entries = RUNBOOKS.map((runbook) => ({
      id: runbook.id,
      alias: runbook.slashName,
      title: runbook.title,
      summary: runbook.summary,
      defaultSeverity: runbook.defaultSeverity,
      multiTarget: runbook.multiTarget,
      gates: runbook.gates.map((gate) => ({ name: gate.name, prompt: gate.prompt, fourEyes: gate.fourEyes })),
      params: z.toJSONSchema(runbook.params, { io: 'input', unrepresentable: 'any' }),
    }));
    if (ctx.json) {
      ctx.printJson(entries);
      return 0;
    }
    for (const entry of entries) {
      ctx.out(`${entry.id} (alias ${entry.alias}) — ${entry.title}, default ${entry.defaultSeverity}`);
      ctx.out(`  ${entry.summary}`);
      const properties = Object.entries(
        (entry.params as { properties?: Record<string, { default?: unknown }> }).properties ?? {},
      );
      if (properties.length > 0) {
        const described = properties.map(([name, schema]) =>
          schema.default !== undefined ? `${name}=${JSON.stringify(schema.default)}` : name,
        );
        ctx.out(`  params: ${described.join(', ')}`);
      }
      if (entry.gates.length > 0) {
        ctx.out(`  gates:  ${entry.gates.map((g) => `${g.name}${g.fourEyes ? ' (four-eyes)' : ''}`).join(', ')}`);
      }
      ctx.out(
        `  run:    firebreak run ${entry.alias} --target <namespace>/<deployment>${entry.multiTarget ? '[,<deployment>...]' : ''}`,
      );
      ctx.out();
    }
    return 0;
  },
};

// ---- run ----------------------------------------------------------------------------------------

const SETTLED: readonly string[] = ['mitigated', ...CLOSED_STATUSES];

const run: Command = {
  name: 'run',
  summary: 'Start a runbook on a deployment and follow it',
  usage:
    'firebreak run <runbook> --target <namespace>/<deployment>[,<deployment>...] [--severity P0..P3]\n' +
    '              [--param key=value]... [--no-wait] [--timeout 30m] [--interval 1s] [--json]',
  options: {
    ...JSON_FLAG,
    target: { type: 'string', short: 't', multiple: true },
    severity: { type: 'string', short: 's' },
    param: { type: 'string', short: 'p', multiple: true },
    'no-wait': { type: 'boolean' },
    timeout: { type: 'string' },
    interval: { type: 'string' },
  },
  async run(ctx, args) {
    const [name, ...extra] = args.positionals;
    if (!name || extra.length > 0) throw new UsageError('run takes exactly one runbook', this.usage);
    const runbook = findRunbook(name);
    if (!runbook) {
      throw new UsageError(
        `unknown runbook ${name}; one of ${RUNBOOKS.map((r) => `${r.id} (${r.slashName})`).join(', ')}`,
        this.usage,
      );
    }
    const targets = parseTargets(strings(args.values.target), this.usage);
    const severity = parseSeverity(args.values.severity, this.usage);
    const params = parseParams(strings(args.values.param), this.usage);
    const timeoutMs = durationFlag(args.values.timeout, '30m', 'timeout', this.usage);
    const intervalMs = Math.max(200, durationFlag(args.values.interval, '1s', 'interval', this.usage));

    const config = await loadFileConfig(ctx.env.FIREBREAK_CONFIG);
    const actor = ctx.actor();
    let prepared;
    try {
      prepared = prepareIncident({
        runbook: runbook.id,
        targets,
        ...(severity ? { severity } : {}),
        params,
        trigger: { kind: 'cli', user: actor.id },
        triggeredBy: actor,
        policy: incidentPolicy(config),
        slackChannel: ctx.env.FIREBREAK_SLACK_CHANNEL ?? config.slack.channel,
      });
    } catch (err) {
      if (err instanceof ApplicationFailure && err.type === ErrorType.INVALID_INPUT) {
        throw new UsageError(err.message, this.usage);
      }
      throw err;
    }
    const client = await ctx.client();
    const outcome = await startIncident(client, prepared, ctx.env.FIREBREAK_TASK_QUEUE).catch((err: unknown) => {
      throw explain(err);
    });
    const handle = client.workflow.getHandle(outcome.workflowId, outcome.runId);
    if (ctx.json && args.values['no-wait']) {
      ctx.printJson(outcome);
      return 0;
    }
    if (!ctx.json) {
      ctx.out(
        outcome.started
          ? `Started ${outcome.incidentId} — ${prepared.input.title}\n  workflow: ${outcome.workflowId}`
          : `An incident is already open for ${targets.map(formatTarget).join(', ')}: ${outcome.workflowId} (following it)`,
      );
    }
    if (args.values['no-wait']) {
      ctx.out(`Follow it: firebreak status ${quote(outcome.workflowId)}`);
      return 0;
    }
    const record = await follow(ctx, handle, { timeoutMs, intervalMs });
    if (ctx.json) ctx.printJson({ ...outcome, record: record ?? null });
    // Leaving is the user's choice, not a failure; the entry point turns it into exit 130.
    if (ctx.io.interrupt?.aborted) return 0;
    if (!record) return 1;
    return record.status === 'failed' || record.status === 'cancelled' || record.failure ? 1 : 0;
  },
};

/**
 * Polls the incident at a bounded interval and prints what changed, until it settles (mitigated
 * or closed), its runbook finishes, a gate waits for a human (printing how to decide it), the
 * timeout passes, or the user presses Ctrl-C. The incident keeps running in every case.
 */
async function follow(
  ctx: CommandContext,
  handle: WorkflowHandle,
  options: { timeoutMs: number; intervalMs: number },
): Promise<IncidentRecord | undefined> {
  const client = await ctx.client();
  const deadline = Date.now() + options.timeoutMs;
  let printed = 0;
  let step: string | undefined;
  let silentSince: number | undefined;
  let record: IncidentRecord | undefined;
  const say = (line: string) => {
    if (!ctx.json) ctx.out(line);
  };
  while (Date.now() < deadline && !ctx.io.interrupt?.aborted) {
    try {
      record = await client.withDeadline(Date.now() + 5_000, () => handle.query(statusQuery));
      silentSince = undefined;
    } catch (err) {
      const reason = explain(err);
      if (reason instanceof CommandFailed && !/unavailable/.test(reason.message)) throw reason;
      if (silentSince === undefined) {
        silentSince = Date.now();
        say('  (no answer from a worker yet — is `firebreak start` running?)');
      }
    }
    if (record) {
      if (printed > record.timeline.length) printed = 0;
      for (const entry of record.timeline.slice(printed)) say(`  ${timelineLine(entry)}`);
      printed = record.timeline.length;
      if (record.currentStep && record.currentStep !== step) {
        step = record.currentStep;
        say(`  → step: ${step}`);
      }
      const pending = record.gates.filter((gate) => gate.status === 'pending');
      if (SETTLED.includes(record.status) || record.closedAt) {
        say(`Incident ${record.id} is ${record.status}${record.outcome ? `: ${record.outcome}` : ''}`);
        return record;
      }
      if (pending.length > 0) {
        for (const gate of pending)
          say(`Waiting for approval of gate ${gate.name}: ${gate.prompt}\n${approvalHint(handle.workflowId, gate)}`);
        return record;
      }
      if (record.currentStep === 'waiting for resolution') {
        say(
          `The runbook finished; incident ${record.id} is ${record.status}${record.outcome ? `: ${record.outcome}` : ''}\n` +
            `  resolve it: firebreak resolve ${quote(handle.workflowId)}`,
        );
        return record;
      }
    }
    // Ctrl-C ends the wait early; the loop then sees the interrupt and says so.
    await sleep(options.intervalMs, undefined, { signal: ctx.io.interrupt }).catch(() => undefined);
  }
  if (ctx.io.interrupt?.aborted) {
    say(`Stopped following; the incident keeps running. Follow again: firebreak status ${quote(handle.workflowId)}`);
  } else {
    say(
      `Still running after ${Math.round(options.timeoutMs / 1000)} s; follow with: firebreak status ${quote(handle.workflowId)}`,
    );
  }
  return record;
}

// ---- incidents ----------------------------------------------------------------------------------

const STATUS_FILTERS = ['open', 'closed', 'acknowledged', 'mitigated', 'resolved', 'failed', 'cancelled'] as const;

const incidents: Command = {
  name: 'incidents',
  summary: 'List incidents (Temporal visibility), newest first',
  usage:
    'firebreak incidents [--status open|closed|acknowledged|mitigated|resolved|failed|cancelled]\n' +
    '                    [--runbook <id>] [--severity P0..P3] [--target <namespace>/<deployment>] [--limit 50] [--json]\n' +
    '  --status open lists every incident not yet closed (open, acknowledged or mitigated).',
  options: {
    ...JSON_FLAG,
    status: { type: 'string' },
    runbook: { type: 'string' },
    severity: { type: 'string' },
    target: { type: 'string' },
    limit: { type: 'string' },
  },
  async run(ctx, args) {
    noPositionals(this, args);
    const query = incidentsQuery(args.values, this.usage);
    const limit = Number(args.values.limit ?? 50);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
      throw new UsageError('--limit must be 1..1000', this.usage);
    const client = await ctx.client();
    const rows: IncidentRow[] = [];
    try {
      for await (const execution of client.workflow.list({ query })) {
        const attrs = execution.typedSearchAttributes;
        rows.push({
          workflowId: execution.workflowId,
          runId: execution.runId,
          incidentId: attrs.get(incidentIdKey),
          runbook: attrs.get(runbookKey),
          severity: attrs.get(severityKey),
          status: attrs.get(statusKey),
          targets: attrs.get(targetKey) ?? [],
          execution: execution.status.name.toLowerCase(),
          startTime: execution.startTime.toISOString(),
          closeTime: execution.closeTime?.toISOString(),
        });
        if (rows.length >= limit) break;
      }
    } catch (err) {
      throw explain(err);
    }
    if (ctx.json) {
      ctx.printJson(rows);
      return 0;
    }
    if (rows.length === 0) {
      ctx.out('No incidents match.');
      return 0;
    }
    ctx.out(
      table(
        ['STARTED', 'SEVERITY', 'STATUS', 'RUNBOOK', 'TARGET', 'WORKFLOW ID'],
        rows.map((row) => [
          row.startTime.slice(0, 19).replace('T', ' '),
          row.severity ?? '?',
          row.execution === 'running' || CLOSED_STATUSES.includes(row.status as never)
            ? (row.status ?? '?')
            : `${row.status ?? '?'} (${row.execution})`,
          row.runbook ?? '?',
          row.targets.join(','),
          row.workflowId,
        ]),
      ),
    );
    return 0;
  },
};

interface IncidentRow {
  workflowId: string;
  runId: string;
  incidentId?: string;
  runbook?: string;
  severity?: string;
  status?: string;
  targets: string[];
  execution: string;
  startTime: string;
  closeTime?: string;
}

export function incidentsQuery(values: ParsedArgs['values'], usage: string): string {
  const clauses = [`${runbookKey.name} IS NOT NULL`];
  const status = values.status;
  if (typeof status === 'string') {
    if (!(STATUS_FILTERS as readonly string[]).includes(status)) {
      throw new UsageError(`--status must be one of ${STATUS_FILTERS.join(', ')}`, usage);
    }
    if (status === 'open') {
      clauses.push(`ExecutionStatus = 'Running'`, `${statusKey.name} IN ('open', 'acknowledged', 'mitigated')`);
    } else if (status === 'closed') {
      clauses.push(`ExecutionStatus != 'Running'`);
    } else {
      clauses.push(`${statusKey.name} = '${status}'`);
    }
  }
  if (typeof values.runbook === 'string') {
    const runbook = findRunbook(values.runbook);
    if (!runbook) throw new UsageError(`unknown runbook ${values.runbook}`, usage);
    clauses.push(`${runbookKey.name} = '${runbook.id}'`);
  }
  const severity = parseSeverity(values.severity, usage);
  if (severity) clauses.push(`${severityKey.name} = '${severity}'`);
  if (typeof values.target === 'string') {
    const target = parseTarget(values.target);
    if (!target) throw new UsageError(`--target must be <namespace>/<deployment>, got ${values.target}`, usage);
    clauses.push(`${targetKey.name} = '${formatTarget(target)}'`);
  }
  return clauses.join(' AND ');
}

// ---- status / ack / approve / reject / resolve -------------------------------------------------

const status: Command = {
  name: 'status',
  summary: 'Show an incident: status, step, gates, mitigations, recent timeline',
  usage: 'firebreak status <id> [--json]   (<id>: workflow id or INC-... incident id)',
  options: { ...JSON_FLAG },
  async run(ctx, args) {
    const ref = await resolveIncident(ctx, oneId(this, args));
    const client = await ctx.client();
    const { record, live } = await currentRecord(client, ref);
    if (!record) throw new CommandFailed(`${ref.workflowId} has no incident record yet; try again in a moment`);
    if (ctx.json) {
      ctx.printJson(record);
      return 0;
    }
    ctx.out(renderRecord(record, ref.workflowId));
    if (!live) ctx.out('\n(no worker answered: showing the last state recorded in the history)');
    return 0;
  },
};

/**
 * A closed incident's record is its result; a running one answers the status query, and when no
 * worker is there to answer, the last snapshot in its history stands in.
 */
async function currentRecord(client: Client, ref: IncidentRef): Promise<{ record?: IncidentRecord; live: boolean }> {
  const handle = client.workflow.getHandle(ref.workflowId, ref.runId);
  try {
    const description = await handle.describe();
    if (description.status.name === 'RUNNING') {
      try {
        return { record: await client.withDeadline(Date.now() + 5_000, () => handle.query(statusQuery)), live: true };
      } catch {
        // Fall through to the history.
      }
    }
    const events = await fetchHistoryEvents(client, ref.workflowId, description.runId);
    return { record: latestRecord(events), live: false };
  } catch (err) {
    throw explain(err, ref.workflowId);
  }
}

const ack: Command = {
  name: 'ack',
  summary: 'Acknowledge an incident (stops escalation)',
  usage: 'firebreak ack <id> [--note <text>] [--json]',
  options: { ...JSON_FLAG, note: { type: 'string' } },
  async run(ctx, args) {
    const ref = await resolveIncident(ctx, oneId(this, args));
    const client = await ctx.client();
    const note = args.values.note;
    const handle = await runningIncident(client, ref);
    const record = await handle
      .executeUpdate(acknowledgeUpdate, {
        args: [{ actor: ctx.actor(), ...(typeof note === 'string' ? { note } : {}) }],
      })
      .catch((err: unknown) => {
        throw explain(err, ref.workflowId);
      });
    if (ctx.json) ctx.printJson(record);
    else {
      const by = record.acknowledgedBy?.name ?? record.acknowledgedBy?.id ?? '?';
      ctx.out(`Acknowledged ${record.id} (by ${by} at ${record.acknowledgedAt}); status ${record.status}`);
    }
    return 0;
  },
};

/** Messages only reach a running incident; a closed one gets a plain answer instead of NotFound. */
async function runningIncident(client: Client, ref: IncidentRef): Promise<WorkflowHandle> {
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

function decideCommand(decision: 'approve' | 'reject'): Command {
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
      const state = await handle
        .executeUpdate(decideUpdate, {
          args: [
            {
              decision,
              actor: ctx.actor(),
              ...(typeof gate === 'string' ? { gate } : {}),
              ...(typeof choice === 'string' ? { choice } : {}),
              ...(typeof comment === 'string' ? { comment } : {}),
            },
          ],
        })
        .catch((err: unknown) => {
          throw explain(err, ref.workflowId);
        });
      if (ctx.json) ctx.printJson(state);
      else
        ctx.out(`Gate ${state.name} ${state.status}${state.choice ? ` (${state.choice})` : ''} on ${ref.workflowId}`);
      return 0;
    },
  };
}

const resolve: Command = {
  name: 'resolve',
  summary: 'Mark an incident resolved (mitigations are then restored per policy)',
  usage: 'firebreak resolve <id> [--note <text>] [--json]',
  options: { ...JSON_FLAG, note: { type: 'string' } },
  async run(ctx, args) {
    const ref = await resolveIncident(ctx, oneId(this, args));
    const client = await ctx.client();
    const handle = await runningIncident(client, ref);
    const note = args.values.note;
    await handle
      .signal(resolveSignal, { actor: ctx.actor(), ...(typeof note === 'string' ? { note } : {}) })
      .catch((err: unknown) => {
        throw explain(err, ref.workflowId);
      });
    if (ctx.json) ctx.printJson({ workflowId: ref.workflowId, resolveRequested: true });
    else ctx.out(`Resolution requested for ${ref.workflowId}; the runbook restores temporary mitigations per policy.`);
    return 0;
  },
};

// ---- postmortem ---------------------------------------------------------------------------------

const postmortem: Command = {
  name: 'postmortem',
  summary: 'Export the postmortem of an incident from its workflow history',
  usage: 'firebreak postmortem <id> [--format md|json] [--out FILE] [--run-id <run>]',
  options: {
    ...JSON_FLAG,
    format: { type: 'string', short: 'f' },
    out: { type: 'string', short: 'o' },
    'run-id': { type: 'string' },
  },
  async run(ctx, args) {
    const id = oneId(this, args);
    const format = args.values.format ?? (ctx.json ? 'json' : 'md');
    if (format !== 'md' && format !== 'json')
      throw new UsageError(`--format must be md or json, got ${String(format)}`, this.usage);
    const ref = await resolveIncident(ctx, id);
    const runId = typeof args.values['run-id'] === 'string' ? args.values['run-id'] : ref.runId;
    const client = await ctx.client();
    const exported = await exportPostmortem(client, { workflowId: ref.workflowId, ...(runId ? { runId } : {}) }).catch(
      (err: unknown) => {
        throw explain(err, ref.workflowId);
      },
    );
    const body = format === 'json' ? exported.json : exported.markdown;
    const out = args.values.out;
    if (typeof out === 'string') {
      await mkdir(path.dirname(path.resolve(out)), { recursive: true });
      await writeFile(out, body);
      ctx.err(`Wrote the ${format} postmortem of ${ref.workflowId} to ${out}`);
    } else {
      ctx.io.stdout(body);
    }
    return 0;
  },
};

export const COMMANDS: readonly Command[] = [
  runbooks,
  run,
  incidents,
  status,
  ack,
  decideCommand('approve'),
  decideCommand('reject'),
  resolve,
  postmortem,
];

// ---- argument helpers ---------------------------------------------------------------------------

function noPositionals(command: Command, args: ParsedArgs): void {
  if (args.positionals.length > 0) {
    throw new UsageError(`unexpected argument ${args.positionals[0]}`, command.usage);
  }
}

function oneId(command: Command, args: ParsedArgs): string {
  const [id, ...extra] = args.positionals;
  if (!id) throw new UsageError(`${command.name} needs an incident id (workflow id or INC-...)`, command.usage);
  if (extra.length > 0) throw new UsageError(`unexpected argument ${extra[0]}`, command.usage);
  return id;
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.map(String) : typeof value === 'string' ? [value] : [];
}

function parseTargets(values: string[], usage: string): Target[] {
  const texts = values
    .flatMap((value) => value.split(','))
    .map((text) => text.trim())
    .filter(Boolean);
  if (texts.length === 0) throw new UsageError('--target <namespace>/<deployment> is required', usage);
  const targets: Target[] = [];
  let namespace: string | undefined;
  for (const text of texts) {
    // `shop/checkout,cart` means shop/checkout and shop/cart.
    const target = parseTarget(text.includes('/') || !namespace ? text : `${namespace}/${text}`);
    if (!target) throw new UsageError(`--target must be <namespace>/<deployment>, got ${text}`, usage);
    namespace = target.namespace;
    targets.push(target);
  }
  return targets;
}

function parseSeverity(value: unknown, usage: string): Severity | undefined {
  if (value === undefined) return undefined;
  const upper = String(value).toUpperCase();
  if (!(SEVERITIES as readonly string[]).includes(upper)) {
    throw new UsageError(`--severity must be one of ${SEVERITIES.join(', ')}, got ${String(value)}`, usage);
  }
  return upper as Severity;
}

function parseParams(values: string[], usage: string): Record<string, string> {
  const params: Record<string, string> = {};
  for (const value of values) {
    const eq = value.indexOf('=');
    if (eq <= 0) throw new UsageError(`--param must be key=value, got ${value}`, usage);
    params[value.slice(0, eq)] = value.slice(eq + 1);
  }
  return params;
}

function durationFlag(value: unknown, fallback: string, name: string, usage: string): number {
  const ms = parseDuration(typeof value === 'string' ? value : fallback);
  if (ms === undefined || ms <= 0) throw new UsageError(`--${name} must be a duration like 30s, 5m or 1h`, usage);
  return ms;
}

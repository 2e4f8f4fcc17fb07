/** `firebreak run`: start a runbook and follow the incident until it settles or needs a human. */
import { setTimeout as sleep } from 'node:timers/promises';
import { ApplicationFailure } from '@temporalio/common';
import type { WorkflowHandle } from '@temporalio/client';
import { startIncident } from '../../client/incidents';
import { ErrorType } from '../../common/errors';
import { formatTarget } from '../../common/ids';
import { CLOSED_STATUSES, type IncidentRecord } from '../../common/types';
import { resolvePermissionRunbooks } from '../../config/access';
import { incidentPolicy, loadFileConfig } from '../../config/file';
import { mayStart } from '../../domain/access';
import { REHEARSAL_BANNER, wouldChangeText } from '../../domain/rehearsal';
import { statusQuery } from '../../domain/messages';
import { allRunbooks, findRunbook, prepareIncident } from '../../runbooks';
import { loadConfiguredRunbooks, registeredCatalog } from '../../client/runbook-files';
import { formatIssue } from '../../runbooks/files/validate';
import { JSON_FLAG, durationFlag, parseParams, parseSeverity, parseTargets, strings } from '../args';
import { CommandFailed, UsageError, explain, type Command, type CommandContext } from '../context';
import { approvalHint, quote, timelineLine } from '../format';

const SETTLED: readonly string[] = ['mitigated', ...CLOSED_STATUSES];

export const run: Command = {
  name: 'run',
  summary: 'Start a runbook on a deployment and follow it',
  usage:
    'firebreak run <runbook> --target <namespace>/<deployment>[,<deployment>...] [--severity P0..P3]\n' +
    '              [--param key=value]... [--dry-run [--yes]] [--no-wait] [--timeout 30m] [--interval 1s] [--json]\n' +
    '\n' +
    '  --dry-run   rehearse: the whole runbook runs against the real cluster, but every change is a\n' +
    '              server-side dry run (kubectl --dry-run=server), recorded as "would change X: A → B";\n' +
    '              nothing is restored later, nobody is paged, no deployment hold is taken, waits that\n' +
    '              judge a change are skipped; card, timeline and postmortem say REHEARSAL. Gates are\n' +
    '              still asked, so the approval path is rehearsed. Needs the same permission as a run.\n' +
    '  --yes       with --dry-run only: do not ask the gates; each counts as approved (first choice)',
  options: {
    ...JSON_FLAG,
    target: { type: 'string', short: 't', multiple: true },
    severity: { type: 'string', short: 's' },
    param: { type: 'string', short: 'p', multiple: true },
    'no-wait': { type: 'boolean' },
    'dry-run': { type: 'boolean' },
    yes: { type: 'boolean', short: 'y' },
    timeout: { type: 'string' },
    interval: { type: 'string' },
  },
  async run(ctx, args) {
    const [name, ...extra] = args.positionals;
    if (!name || extra.length > 0) throw new UsageError('run takes exactly one runbook', this.usage);
    const fileConfig = await loadFileConfig(ctx.env.FIREBREAK_CONFIG);
    // Runbook files too (FIREBREAK_RUNBOOKS_DIR): a bad file is said and skipped, as at start-up.
    const files = await loadConfiguredRunbooks(ctx.env, fileConfig);
    for (const issue of files.issues) ctx.err(`skipped runbook file: ${formatIssue(issue)}`);
    // `permissions` may grant a runbook file by alias: resolved to ids as start-up does. A name this
    // CLI does not know (no runbook files here) grants nothing; start-up and `doctor` refuse it (exit 2).
    const { permissions } = resolvePermissionRunbooks(fileConfig.permissions, registeredCatalog());
    const config = { ...fileConfig, permissions };
    const runbook = findRunbook(name);
    if (!runbook) {
      throw new UsageError(
        `unknown runbook ${name}; one of ${allRunbooks()
          .map((r) => `${r.id} (${r.slashName})`)
          .join(', ')}`,
        this.usage,
      );
    }
    const targets = parseTargets(strings(args.values.target), this.usage);
    const severity = parseSeverity(args.values.severity, this.usage);
    const params = parseParams(strings(args.values.param), this.usage);
    const timeoutMs = durationFlag(args.values.timeout, '30m', 'timeout', this.usage);
    const intervalMs = Math.max(200, durationFlag(args.values.interval, '1s', 'interval', this.usage));
    const dryRun = args.values['dry-run'] === true;
    // Skipping gates is for rehearsals only: a real change always waits for its approvers.
    if (args.values.yes === true && !dryRun) {
      throw new UsageError('--yes only goes with --dry-run: a real run always asks its gates', this.usage);
    }

    const actor = await ctx.actor();
    const policy = incidentPolicy(config);
    const namespaces = [...new Set(targets.map((target) => target.namespace))];
    if (!mayStart(policy.access, actor, { runbook: runbook.id, namespaces })) {
      await ctx.refuse(
        'start',
        `${actor.id} may not start ${runbook.id} in ${namespaces.join(', ')} (permissions.start); nothing was started`,
      );
    }
    let prepared;
    try {
      prepared = prepareIncident({
        runbook: runbook.id,
        targets,
        ...(severity ? { severity } : {}),
        params,
        trigger: { kind: 'cli', user: actor.id },
        triggeredBy: actor,
        policy,
        slackChannel: ctx.env.FIREBREAK_SLACK_CHANNEL ?? config.slack.channel,
        ...(dryRun ? { rehearsal: { skipGates: args.values.yes === true } } : {}),
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
      const what = dryRun ? 'A rehearsal' : 'An incident';
      ctx.out(
        outcome.started
          ? `Started ${outcome.incidentId} — ${prepared.input.title}\n  workflow: ${outcome.workflowId}`
          : `${what} is already open for ${targets.map(formatTarget).join(', ')}: ${outcome.workflowId} (following it)`,
      );
      if (dryRun) ctx.out(`  ${REHEARSAL_BANNER}`);
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
        if (record.rehearsal) {
          say('Would-be changes (none was made):');
          for (const change of record.rehearsal.wouldChange) say(`  - ${wouldChangeText(change.target, change.what)}`);
          if (record.rehearsal.moreChanges > 0) say(`  …and ${record.rehearsal.moreChanges} more (see its timeline)`);
        }
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

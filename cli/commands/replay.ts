/**
 * `firebreak replay`: downloads open incidents' histories from the connected Temporal and replays
 * each against its own build's kept bundle, or against a given bundle — the check before moving
 * incidents to a new build. Prints ok or the first diverging event per incident; exit 1 on any.
 */
import { readFile } from 'node:fs/promises';
import { runbookKey } from '../../common/search-attributes';
import { fetchHistoryEvents } from '../../postmortem';
import { incidentBuild, type HistoryEvent } from '../../postmortem/history';
import { strings } from '../args';
import { UsageError, explain, resolveIncident, type Command } from '../context';

interface Target {
  workflowId: string;
  runId?: string;
}

export const replay: Command = {
  name: 'replay',
  summary: 'Replay open incidents on their own build (or --bundle): ok or the first divergence',
  usage:
    'firebreak replay [--all-open | <id>…] [--bundle FILE] [--json]\n' +
    '  Without --bundle, each incident replays against the bundle of the build it is pinned to,\n' +
    '  kept in FIREBREAK_DATA_DIR/builds by `firebreak start`. Exit 1 if any incident diverges.',
  options: { json: { type: 'boolean' }, 'all-open': { type: 'boolean' }, bundle: { type: 'string' } },
  async run(ctx, args) {
    const allOpen = args.values['all-open'] === true;
    if (allOpen === args.positionals.length > 0)
      throw new UsageError('give incident ids or --all-open (not both)', this.usage);
    const bundleFile = strings(args.values.bundle)[0];
    const given = bundleFile
      ? await readFile(bundleFile, 'utf8').catch((err: NodeJS.ErrnoException) => {
          throw new UsageError(`--bundle ${bundleFile}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
        })
      : undefined;
    const client = await ctx.client();
    const targets: Target[] = [];
    if (allOpen) {
      const query = `${runbookKey.name} IS NOT NULL AND ExecutionStatus = 'Running' AND TaskQueue = '${ctx.env.FIREBREAK_TASK_QUEUE}'`;
      try {
        for await (const execution of client.workflow.list({ query }))
          targets.push({ workflowId: execution.workflowId, runId: execution.runId });
      } catch (err) {
        throw explain(err);
      }
    } else {
      for (const id of args.positionals) targets.push(await resolveIncident(ctx, id));
    }

    // Replaying needs the worker's native module: loaded only by this command.
    const { installReplayRuntime } = await import('../../worker/temporal');
    const { describeOutcome, replayHistories } = await import('../../worker/replay');
    const { loadKeptBuild } = await import('../../worker/versioning');
    installReplayRuntime();

    const lines: { workflowId: string; ok: boolean; line: string }[] = [];
    const byBundle = new Map<
      string,
      { code: string; inputs: { workflowId: string; history: { events: HistoryEvent[] } }[] }
    >();
    for (const target of targets) {
      const events = await fetchHistoryEvents(client, target.workflowId, target.runId).catch((err: unknown) => {
        throw explain(err, target.workflowId);
      });
      const build = incidentBuild(events)?.buildId;
      const code = given ?? (build ? (await loadKeptBuild(ctx.env, build))?.code : undefined);
      if (!code) {
        const why = build
          ? `no kept bundle of build ${build} here (pass --bundle FILE)`
          : 'unversioned (pass --bundle FILE)';
        lines.push({ workflowId: target.workflowId, ok: false, line: `FAIL  ${target.workflowId}: ${why}` });
        continue;
      }
      const key = given ? 'given' : build!;
      const group = byBundle.get(key) ?? { code, inputs: [] };
      group.inputs.push({ workflowId: target.workflowId, history: { events } });
      byBundle.set(key, group);
    }
    for (const [key, group] of byBundle) {
      const suffix = key === 'given' ? '' : ` (build ${key})`;
      for (const outcome of await replayHistories({ code: group.code }, group.inputs)) {
        lines.push({ workflowId: outcome.workflowId, ok: outcome.ok, line: describeOutcome(outcome, suffix) });
      }
    }
    if (ctx.json) ctx.printJson(lines.map(({ workflowId, ok, line }) => ({ workflowId, ok, result: line })));
    else if (lines.length === 0) ctx.out('No open incidents to replay.');
    else for (const { line } of lines) ctx.out(line);
    return lines.every((line) => line.ok) ? 0 : 1;
  },
};

/**
 * `firebreak runbooks`: the catalog — built-in runbooks and runbook files — with each runbook's
 * parameters (as JSON Schema) and gates; `runbooks validate [FILE…]` checks runbook files (every
 * problem as file:line:column), `runbooks schema` prints the runbook file JSON Schema.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { loadFileConfig } from '../../config/file';
import { allRunbooks, type RunbookDefinition } from '../../runbooks';
import { isFileRunbook } from '../../runbooks/files/catalog';
import { loadRunbookFiles, runbookFilesIn } from '../../client/runbook-files';
import { loadConfiguredRunbooks, runbookDirSetting } from '../../client/runbook-files';
import { parseScenarioText, type ScenarioReport, type ScenarioRun } from '../../runbooks/files/scenario';
import { runbookJsonSchema } from '../../runbooks/files/schema';
import { formatIssue } from '../../runbooks/files/validate';
import { JSON_FLAG, strings } from '../args';
import { UsageError, type Command, type CommandContext, type ParsedArgs } from '../context';

export const runbooks: Command = {
  name: 'runbooks',
  summary: 'List the runbooks, their parameters and approval gates',
  usage:
    'firebreak runbooks [--json] | firebreak runbooks validate [FILE…] | firebreak runbooks schema\n' +
    '       firebreak runbooks test FILE --scenario SCENARIO.yaml [--scenario …] [--temporal-address HOST:PORT\n' +
    '         [--temporal-namespace NS]] [--json]\n' +
    '  test: runs the runbook file against fake activities as each scenario scripts them (docs/runbooks.md),\n' +
    '        on a local dev server of its own (or the Temporal named — never a production one: deployment\n' +
    '        holds are per namespace); exit 1 when an expectation fails.',
  options: {
    ...JSON_FLAG,
    scenario: { type: 'string', multiple: true },
    'temporal-address': { type: 'string' },
    'temporal-namespace': { type: 'string' },
  },
  async run(ctx, args) {
    const [sub, ...rest] = args.positionals;
    if (sub === 'schema') {
      if (rest.length > 0) throw new UsageError(`unexpected argument ${rest[0]}`, this.usage);
      ctx.printJson(runbookJsonSchema());
      return 0;
    }
    if (sub === 'validate') return validate(ctx, rest);
    if (sub === 'test') return testScenarios(ctx, rest, args);
    for (const flag of ['scenario', 'temporal-address', 'temporal-namespace'])
      if (args.values[flag] !== undefined) throw new UsageError(`--${flag} goes with \`runbooks test\``, this.usage);
    if (sub !== undefined) throw new UsageError(`unexpected argument ${sub}`, this.usage);
    return list(ctx, args);
  },
};

async function validate(ctx: CommandContext, files: string[]): Promise<number> {
  let paths = files;
  if (paths.length === 0) {
    const setting = runbookDirSetting(ctx.env, await loadFileConfig(ctx.env.FIREBREAK_CONFIG));
    if (!setting)
      throw new UsageError(
        "name files, or set FIREBREAK_RUNBOOKS_DIR (or the config file's runbooks.dir)",
        runbooks.usage,
      );
    paths = await runbookFilesIn(setting.dir, setting.source);
  }
  const { loaded, issues } = await loadRunbookFiles(paths);
  if (ctx.json) {
    ctx.printJson({
      valid: loaded.map((entry) => ({ file: entry.file, id: entry.definition.id, sha256: entry.hash })),
      issues,
    });
  } else {
    for (const entry of loaded) ctx.out(`ok ${entry.file}: ${entry.definition.id} (sha256 ${entry.hash.slice(0, 12)})`);
    for (const issue of issues) ctx.out(formatIssue(issue));
    const bad = new Set(issues.map((issue) => issue.file)).size;
    ctx.out(`${loaded.length} valid, ${bad} invalid`);
  }
  return issues.length > 0 ? 1 : 0;
}

/**
 * `runbooks test FILE --scenario …`: the file validated, each scenario parsed (file:line), then all
 * run on one Temporal (worker/runbook-test.ts, loaded on demand like `start`). One line per
 * expectation; exit 0 when every scenario passes, 1 otherwise, 2 for a bad scenario file.
 */
async function testScenarios(ctx: CommandContext, files: string[], args: ParsedArgs): Promise<number> {
  const scenarioFiles = strings(args.values.scenario);
  const address = args.values['temporal-address'];
  const namespace = args.values['temporal-namespace'];
  if (namespace !== undefined && address === undefined)
    throw new UsageError('--temporal-namespace goes with --temporal-address', runbooks.usage);
  const [file, ...extra] = files;
  if (!file || extra.length > 0) throw new UsageError('runbooks test takes one runbook file', runbooks.usage);
  if (scenarioFiles.length === 0) throw new UsageError('runbooks test needs --scenario SCENARIO.yaml', runbooks.usage);
  const { loaded, issues } = await loadRunbookFiles([file]);
  const source = loaded[0];
  if (!source) {
    for (const issue of issues) ctx.out(formatIssue(issue));
    ctx.out(`FAIL ${file}: the runbook file is invalid`);
    return 1;
  }
  const runs: ScenarioRun[] = [];
  for (const scenarioFile of scenarioFiles) {
    const text = await readFile(scenarioFile, 'utf8').catch((err: Error) => {
      throw new UsageError(`cannot read scenario ${scenarioFile}: ${err.message}`, runbooks.usage);
    });
    const parsed = parseScenarioText(text, scenarioFile);
    if (parsed.problems) throw new UsageError(`invalid scenario:\n${parsed.problems.join('\n')}`, runbooks.usage);
    runs.push({ file: scenarioFile, scenario: parsed.scenario });
  }
  const { runRunbookScenarios } = await import('../../worker/runbook-test');
  // Not TEMPORAL_ADDRESS: an operator's shell points that at production, where a scenario's
  // targets would claim real deployment holds. A Temporal other than its own dev server is explicit.
  const reports = await runRunbookScenarios(source, runs, {
    ...(typeof address === 'string' ? { temporalAddress: address } : {}),
    ...(typeof namespace === 'string' ? { namespace } : {}),
    ...(ctx.env.FIREBREAK_WORKFLOW_BUNDLE ? { workflowBundle: ctx.env.FIREBREAK_WORKFLOW_BUNDLE } : {}),
    log: (line) => ctx.err(line),
  });
  const passed = (report: ScenarioReport) => !report.error && report.results.every((result) => result.ok);
  if (ctx.json) {
    ctx.printJson({
      runbook: source.definition.id,
      sha256: source.hash,
      ok: reports.every(passed),
      scenarios: reports,
    });
  } else {
    ctx.out(`runbook ${source.definition.id} (${file}, sha256 ${source.hash.slice(0, 12)})`);
    for (const report of reports) {
      ctx.out(`${passed(report) ? 'PASS' : 'FAIL'} scenario ${report.name} (${report.file})`);
      for (const step of report.steps) ctx.out(`  · ${step}`);
      for (const result of report.results)
        ctx.out(`  ${result.ok ? 'ok  ' : 'FAIL'} ${result.expectation}${result.ok ? '' : ` — got ${result.got}`}`);
      if (report.error) ctx.out(`  FAIL ${report.error}`);
    }
    const failed = reports.filter((report) => !passed(report)).length;
    const passedCount = reports.length - failed;
    ctx.out(`${passedCount} scenario${passedCount === 1 ? '' : 's'} passed, ${failed} failed`);
  }
  return reports.every(passed) ? 0 : 1;
}

async function list(ctx: CommandContext, args: ParsedArgs): Promise<number> {
  void args;
  const config = await loadFileConfig(ctx.env.FIREBREAK_CONFIG);
  const { issues } = await loadConfiguredRunbooks(ctx.env, config);
  const entries = allRunbooks().map((runbook) => describe(runbook));
  for (const issue of issues) ctx.err(`skipped: ${formatIssue(issue)}`);
  if (ctx.json) {
    ctx.printJson(entries);
    return 0;
  }
  for (const entry of entries) {
    const file = entry.file ? ` [file ${entry.file.path}, sha256 ${entry.file.sha256.slice(0, 12)}]` : '';
    ctx.out(`${entry.id} (alias ${entry.alias}) — ${entry.title}, default ${entry.defaultSeverity}${file}`);
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
  // Said, not left to guess: the team's own runbooks are missing because nothing names their directory.
  if (!runbookDirSetting(ctx.env, config))
    ctx.out(
      "No runbook files: neither FIREBREAK_RUNBOOKS_DIR nor the config file's runbooks.dir is set (docs/runbooks.md).",
    );
  return 0;
}

function describe(runbook: RunbookDefinition) {
  return {
    id: runbook.id,
    alias: runbook.slashName,
    title: runbook.title,
    summary: runbook.summary,
    defaultSeverity: runbook.defaultSeverity,
    multiTarget: runbook.multiTarget,
    gates: runbook.gates.map((gate) => ({ name: gate.name, prompt: gate.prompt, fourEyes: gate.fourEyes })),
    params: paramsJsonSchema(runbook.params),
    ...(isFileRunbook(runbook) ? { file: { path: runbook.source.file, sha256: runbook.source.hash } } : {}),
  };
}

/**
 * The parameters as JSON Schema. z.toJSONSchema (io: input) leaves out the default of a parameter
 * whose text is converted (a boolean flag takes `yes`/`no`): it is added back from the schema, so
 * the listing says `scaleUp=true` when the runbook does.
 */
function paramsJsonSchema(params: z.ZodType) {
  const json = z.toJSONSchema(params, { io: 'input', unrepresentable: 'any' });
  const properties = (json as { properties?: Record<string, Record<string, unknown>> }).properties ?? {};
  const shape: Record<string, z.ZodType> = params instanceof z.ZodObject ? params.shape : {};
  for (const [name, field] of Object.entries(shape)) {
    const property = properties[name];
    if (property && !('default' in property) && field instanceof z.ZodDefault)
      property.default = field.def.defaultValue;
  }
  return json;
}

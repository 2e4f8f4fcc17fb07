/**
 * `firebreak runbooks`: the catalog — built-in runbooks and runbook files — with each runbook's
 * parameters (as JSON Schema) and gates; `runbooks validate [FILE…]` checks runbook files (every
 * problem as file:line:column), `runbooks schema` prints the runbook file JSON Schema.
 */
import { z } from 'zod';
import { loadFileConfig } from '../../config/file';
import { allRunbooks, type RunbookDefinition } from '../../runbooks';
import { isFileRunbook } from '../../runbooks/files/catalog';
import { loadRunbookFiles, runbookFilesIn } from '../../client/runbook-files';
import { loadConfiguredRunbooks, runbookDirSetting } from '../../client/runbook-files';
import { runbookJsonSchema } from '../../runbooks/files/schema';
import { formatIssue } from '../../runbooks/files/validate';
import { JSON_FLAG } from '../args';
import { UsageError, type Command, type CommandContext, type ParsedArgs } from '../context';

export const runbooks: Command = {
  name: 'runbooks',
  summary: 'List the runbooks, their parameters and approval gates',
  usage: 'firebreak runbooks [--json] | firebreak runbooks validate [FILE…] | firebreak runbooks schema',
  options: { ...JSON_FLAG },
  async run(ctx, args) {
    const [sub, ...rest] = args.positionals;
    if (sub === 'schema') {
      if (rest.length > 0) throw new UsageError(`unexpected argument ${rest[0]}`, this.usage);
      ctx.printJson(runbookJsonSchema());
      return 0;
    }
    if (sub === 'validate') return validate(ctx, rest);
    if (sub !== undefined) throw new UsageError(`unexpected argument ${sub}`, this.usage);
    return list(ctx, args);
  },
};

async function validate(ctx: CommandContext, files: string[]): Promise<number> {
  let paths = files;
  if (paths.length === 0) {
    const setting = runbookDirSetting(ctx.env, await loadFileConfig(ctx.env.FIREBREAK_CONFIG));
    if (!setting) throw new UsageError('name files, or set FIREBREAK_RUNBOOKS_DIR', runbooks.usage);
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

async function list(ctx: CommandContext, args: ParsedArgs): Promise<number> {
  void args;
  const { issues } = await loadConfiguredRunbooks(ctx.env, await loadFileConfig(ctx.env.FIREBREAK_CONFIG));
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
    params: z.toJSONSchema(runbook.params, { io: 'input', unrepresentable: 'any' }),
    ...(isFileRunbook(runbook) ? { file: { path: runbook.source.file, sha256: runbook.source.hash } } : {}),
  };
}

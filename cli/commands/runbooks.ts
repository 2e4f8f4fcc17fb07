/** `firebreak runbooks`: the catalog, with each runbook's parameters (as JSON Schema) and gates. */
import { z } from 'zod';
import { RUNBOOKS } from '../../runbooks';
import { JSON_FLAG, noPositionals } from '../args';
import type { Command } from '../context';

export const runbooks: Command = {
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

/** `firebreak postmortem`: the incident's postmortem, built from its workflow history. */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { exportPostmortem } from '../../postmortem';
import { JSON_FLAG, oneId } from '../args';
import { UsageError, explain, resolveIncident, type Command } from '../context';

export const postmortem: Command = {
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
    // A workflow id needs no look-up: the export's own describe says when there is no such incident.
    const ref = id.startsWith('INC-') ? await resolveIncident(ctx, id) : { workflowId: id, runId: undefined };
    const runId = typeof args.values['run-id'] === 'string' ? args.values['run-id'] : ref.runId;
    const source = await ctx.historySource();
    const exported = await exportPostmortem(source, { workflowId: ref.workflowId, ...(runId ? { runId } : {}) }).catch(
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

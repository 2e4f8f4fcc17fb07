/** `firebreak incidents`: the incidents Temporal visibility knows, filtered by search attributes. */
import { findRunbook } from '../../runbooks';
import { formatTarget, parseTarget } from '../../common/ids';
import { incidentIdKey, runbookKey, severityKey, statusKey, targetKey } from '../../common/search-attributes';
import { CLOSED_STATUSES } from '../../common/types';
import { JSON_FLAG, noPositionals, parseSeverity } from '../args';
import { UsageError, explain, type Command, type ParsedArgs } from '../context';
import { table } from '../format';

const STATUS_FILTERS = ['open', 'closed', 'acknowledged', 'mitigated', 'resolved', 'failed', 'cancelled'] as const;

export const incidents: Command = {
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

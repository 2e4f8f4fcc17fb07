/**
 * Terminal rendering of incident records and lists: plain text that reads in a narrow terminal
 * and pastes into a chat.
 */
import { formatDuration } from '../common/duration';
import { formatTarget } from '../common/ids';
import type { GateState, IncidentRecord, TimelineEntry } from '../common/types';

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

export function timelineLine(entry: TimelineEntry): string {
  const time = entry.at.slice(11, 19);
  const [first, ...rest] = entry.message.split('\n');
  const more = rest.length > 0 ? `\n${rest.map((line) => `           ${line}`).join('\n')}` : '';
  return `${time}  ${entry.kind.padEnd(12)} ${first}${more}`;
}

/** How to decide a pending gate from this terminal. */
export function approvalHint(workflowId: string, gate: GateState): string {
  const choice = gate.choices?.length ? ` --choice <${gate.choices.join('|')}>` : '';
  return (
    `  approve: firebreak approve ${quote(workflowId)} --gate ${gate.name}${choice}\n` +
    `  reject:  firebreak reject ${quote(workflowId)} --gate ${gate.name} --comment "<why>"`
  );
}

export function quote(value: string): string {
  return /^[A-Za-z0-9_./:@=-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

export function renderRecord(record: IncidentRecord, workflowId: string, timelineEntries = 15): string {
  const lines: string[] = [];
  lines.push(`${record.id}  ${record.title}`);
  lines.push(`  workflow:   ${workflowId}`);
  lines.push(`  runbook:    ${record.runbook}`);
  lines.push(`  target:     ${record.targets.map(formatTarget).join(', ')}`);
  lines.push(`  severity:   ${record.severity}`);
  lines.push(`  status:     ${record.status}${record.currentStep ? ` (step: ${record.currentStep})` : ''}`);
  lines.push(
    `  opened:     ${record.openedAt} (${formatDuration(Math.max(0, Date.now() - Date.parse(record.openedAt)))} ago)`,
  );
  if (record.acknowledgedAt) {
    const by = record.acknowledgedBy ? ` by ${record.acknowledgedBy.name ?? record.acknowledgedBy.id}` : '';
    lines.push(`  acked:      ${record.acknowledgedAt}${by}`);
  }
  if (record.mitigatedAt) lines.push(`  mitigated:  ${record.mitigatedAt}`);
  if (record.resolvedAt) lines.push(`  resolved:   ${record.resolvedAt}`);
  if (record.escalationTier > 0) lines.push(`  escalated:  tier ${record.escalationTier}`);
  if (record.nextDeadline) lines.push(`  next due:   ${record.nextDeadline.stage} by ${record.nextDeadline.at}`);
  if (record.outcome) lines.push(`  outcome:    ${record.outcome}`);
  if (record.failure) lines.push(`  failure:    ${record.failure.type}: ${record.failure.message}`);
  if (record.gates.length > 0) {
    lines.push('', 'Gates:');
    for (const gate of record.gates) {
      const by = gate.decidedBy ? ` by ${gate.decidedBy.name ?? gate.decidedBy.id}` : '';
      const choice = gate.choice ? ` (${gate.choice})` : '';
      lines.push(`  ${gate.name}: ${gate.status}${choice}${by} — ${gate.prompt}`);
      if (gate.status === 'pending') lines.push(`  deadline ${gate.deadline}\n${approvalHint(workflowId, gate)}`);
    }
  }
  if (record.mitigations.length > 0) {
    lines.push('', 'Temporary mitigations:');
    for (const m of record.mitigations) {
      const state = m.restoredAt ? `restored ${m.restoredAt}` : (m.restoreNote ?? 'in place');
      lines.push(
        `  ${m.key}: ${String(m.change.previous ?? 'unset')} → ${String(m.change.applied ?? 'unset')} (${state})`,
      );
    }
  }
  if (record.holds?.length) {
    lines.push('', 'Deployment holds:');
    for (const hold of record.holds) {
      const holder = hold.holder ? ` (held by incident ${hold.holder.incidentId}, ${hold.holder.workflowId})` : '';
      const waiters = hold.waiters?.length ? `; waited on by ${hold.waiters.map((w) => w.incidentId).join(', ')}` : '';
      lines.push(
        `  ${formatTarget(hold.target)}: ${hold.state} since ${hold.since}${hold.state === 'held' ? '' : holder}${waiters}`,
      );
    }
  }
  const recent = record.timeline.slice(-timelineEntries);
  if (recent.length > 0) {
    const skipped = record.timeline.length - recent.length;
    lines.push('', `Timeline${skipped > 0 ? ` (last ${recent.length} of ${record.timeline.length})` : ''}:`);
    for (const entry of recent) lines.push(`  ${timelineLine(entry)}`);
  }
  return lines.join('\n');
}

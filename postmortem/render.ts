/**
 * Postmortem model → Markdown a wiki shows as-is (GitHub, GitLab, Confluence with Mermaid), and
 * → JSON, the versioned machine form (docs/postmortem-schema.md).
 */
import { formatTarget } from '../common/ids';
import { describeChange } from '../domain/mitigations';
import { REHEARSAL_BANNER, REHEARSAL_LABEL } from '../domain/rehearsal';
import { ACTIVITY } from './activity-names';
import { actorText, formatMs } from './describe';
import type { ActivityRecord, Postmortem } from './model';

/** Bars beyond this make a Gantt unreadable; the rest are counted in one closing bar. */
const GANTT_ACTIVITY_BARS = 40;
/** Chatter that says nothing about the remediation; still listed in the activity table. */
const SLACK_ACTIVITIES: ReadonlySet<string> = new Set([
  ACTIVITY.card,
  ACTIVITY.threadEntry,
  ACTIVITY.approvalRequest,
  ACTIVITY.approvalClosed,
]);

export function renderJson(postmortem: Postmortem): string {
  return `${JSON.stringify(postmortem, null, 2)}\n`;
}

export function renderMarkdown(pm: Postmortem): string {
  const s = pm.summary;
  const t = pm.times;
  const lines: string[] = [];
  const title = s.title ?? pm.source.workflowId;
  // A rehearsal's title already says so when it comes from its input; the heading says it regardless.
  const rehearsalTag = s.rehearsal && !title.startsWith(REHEARSAL_LABEL) ? `${REHEARSAL_LABEL} — ` : '';
  lines.push(`# Postmortem: ${rehearsalTag}${text(title)}`, '');
  if (s.rehearsal) lines.push(`> **${REHEARSAL_BANNER}.**`, '');
  lines.push(
    `> Exported from the Temporal history of \`${pm.source.workflowId}\`${pm.source.runId ? ` (run \`${pm.source.runId}\`)` : ''}: ` +
      `${pm.source.historyLength} events, ${pm.source.executionStatus}, digest \`${pm.source.historyDigest}\`. ` +
      `Generated ${pm.generatedAt} — postmortem schema v${pm.schemaVersion}.`,
  );
  if (pm.source.executionStatus === 'running') {
    lines.push('>', '> **The incident is still running**: this is the state so far.');
  }
  lines.push('');

  lines.push('## Summary', '');
  lines.push(
    table(
      ['', ''],
      [
        ['Incident', code(s.incidentId ?? '—')],
        ['Runbook', s.runbook ?? pm.source.workflowType],
        ...(s.runbookFile
          ? [['Runbook file', `${code(s.runbookFile.file)}, sha256 ${code(s.runbookFile.sha256)}`]]
          : []),
        ['Target', s.targets.length ? s.targets.map((target) => code(formatTarget(target))).join(', ') : '—'],
        ['Severity', s.severity ?? '—'],
        ['Triggered by', s.triggeredBy],
        ...(s.rehearsal
          ? [['Rehearsal', `**yes** — ${pm.wouldBeChanges?.length ?? 0} would-be change(s), none made`]]
          : []),
        ['Build', pm.source.build ? code(pm.source.build.buildId) : '—'],
        ['Status', `**${s.status}**`],
        ['Outcome', s.outcome ?? '—'],
        ...(s.failure ? [['Failure', `${code(s.failure.type)} ${s.failure.message}`]] : []),
        ...(s.cancellation
          ? [
              [
                'Cancelled',
                `${s.cancellation.at} by ${actorText(s.cancellation.by)}: ${s.cancellation.reason ?? 'no reason given'}`,
              ],
            ]
          : []),
      ],
    ),
    '',
  );

  lines.push('## Key times', '');
  const ack = t.acknowledged ? `${t.acknowledged}${t.acknowledgedBy ? ` by ${actorText(t.acknowledgedBy)}` : ''}` : '—';
  lines.push(
    table(
      ['Moment', 'Time (UTC)'],
      [
        ['Detected', t.detected ?? '—'],
        ['Incident started', t.started],
        ['Acknowledged', ack],
        ['Mitigated', t.mitigated ?? '—'],
        ['Resolved', t.resolved ?? '—'],
        ['Closed', t.closed ?? '—'],
      ],
    ),
    '',
  );
  const figures = [
    `**MTTA** ${t.mttaMs !== undefined ? formatMs(t.mttaMs) : '—'}`,
    `**time to mitigate** ${t.ttmMs !== undefined ? formatMs(t.ttmMs) : '—'}`,
    `**MTTR** ${t.mttrMs !== undefined ? formatMs(t.mttrMs) : '—'}`,
  ];
  lines.push(`${figures.join(' · ')} (measured from detection)`, '');

  lines.push('## Incident timeline (Gantt)', '', '```mermaid', ...gantt(pm), '```', '');

  section(lines, '## What the runbook recorded', pm.narrative, '_Nothing yet._', [
    ['Time (UTC)', (entry) => entry.at],
    ['Kind', (entry) => entry.kind],
    ['Entry', (entry) => text(entry.message)],
  ]);

  section(lines, '## Timeline from the history', pm.timeline, undefined, [
    ['Time (UTC)', (item) => item.at],
    ['Kind', (item) => item.kind],
    ['What', (item) => text(item.text)],
  ]);

  section(lines, '## Approval gates', pm.gates, '_None._', [
    ['Gate', (gate) => code(gate.name)],
    ['Asked (UTC)', (gate) => gate.requestedAt],
    [
      'Outcome',
      (gate) =>
        `**${gate.status}**${gate.choice ? ` (${text(gate.choice)})` : ''}${gate.comment ? ` — ${text(gate.comment)}` : ''}`,
    ],
    ['By', (gate) => (gate.decidedBy ? actorText(gate.decidedBy) : '—')],
    ['Decided (UTC)', (gate) => gate.decidedAt ?? '—'],
    ['Question', (gate) => text(gate.prompt)],
  ]);

  section(lines, '## Approval decisions and acknowledgements', pm.decisions, '_None._', [
    ['Time (UTC)', (d) => d.at],
    ['Decision', (d) => d.kind],
    ['Gate', (d) => d.gate ?? '—'],
    ['By', (d) => actorText(d.actor)],
    ['Choice', (d) => d.choice ?? '—'],
    ['Comment', (d) => text(d.comment ?? d.note ?? '—')],
    [
      'Result',
      (d) => (d.outcome === 'failed' ? `failed: ${text(d.failure?.message ?? '')}` : (d.gateStatus ?? d.outcome)),
    ],
  ]);

  section(lines, '## Escalations', pm.escalations, '_None: the incident was acknowledged in time._', [
    ['Time (UTC)', (e) => e.at],
    ['Tier', (e) => e.tier],
    ['Channel', (e) => e.channel],
    ['Reason', (e) => text(e.reason)],
    ['Delivery', (e) => e.outcome],
  ]);

  if (s.rehearsal) {
    section(lines, '## Would-be changes', pm.wouldBeChanges ?? [], '_None: the runbook would have changed nothing._', [
      ['Time (UTC)', (c) => c.at],
      ['Deployment', (c) => code(formatTarget(c.target))],
      ['Would change', (c) => text(c.what)],
      ['Sent as', (c) => `${code(c.activity)} (server-side dry run)`],
    ]);
  }

  section(lines, '## Temporary mitigations', pm.mitigations, '_None: nothing was changed that needs restoring._', [
    ['Setting', (m) => code(m.key)],
    ['Change', (m) => text(describeChange(m.change))],
    ['Applied (UTC)', (m) => m.appliedAt],
    [
      'Restored',
      (m) => (m.restored ? `yes, ${m.restoredAt}` : `**no**${m.restoreNote ? ` — ${text(m.restoreNote)}` : ''}`),
    ],
  ]);

  section(lines, '## Evidence', pm.evidence, '_None: no artefact was taken from the cluster._', [
    ['Artefact', (e) => code(e.name)],
    ['Size', (e) => `${e.bytes} bytes${e.truncated ? ' (**cut at the cap**)' : ''}`],
    ['SHA-256', (e) => code(e.sha256)],
    ['What', (e) => text(e.source)],
    ['Kept at', (e) => text([e.path, ...e.copies].join('\n'))],
    ['Slack file', (e) => (e.slackFileId ? code(e.slackFileId) : '—')],
  ]);

  section(lines, '## Activities', pm.activities, undefined, [
    ['Scheduled (UTC)', (a) => a.scheduledAt],
    ['Activity', (a) => code(a.name)],
    ['Key inputs', (a) => text(a.inputSummary || '—')],
    ['Outcome', (a) => (a.failure ? `${a.outcome}: ${text(a.failure.message)}` : a.outcome)],
    ['Attempts', (a) => String(a.attempts)],
    ['Duration', (a) => (a.durationMs !== undefined ? formatMs(a.durationMs) : '—')],
  ]);

  section(lines, '## Timers', pm.timers, '_None._', [
    ['Started (UTC)', (timer) => timer.startedAt],
    ['Timer', (timer) => timer.timerId],
    ['Duration', (timer) => formatMs(timer.durationMs)],
    ['Purpose', (timer) => timer.purpose ?? '—'],
    ['Outcome', (timer) => `${timer.outcome}${timer.endedAt ? ` at ${timer.endedAt}` : ''}`],
  ]);

  section(lines, '## Failures', pm.failures, '_None._', [
    ['Time (UTC)', (f) => f.at],
    ['Where', (f) => f.where],
    ['What', (f) => text(f.what)],
    [
      'Failure',
      (f) =>
        `${f.failure.type ? `${code(f.failure.type)} ` : ''}${text(f.failure.message)}${f.failure.nonRetryable ? ' (not retryable)' : ''}`,
    ],
  ]);

  lines.push('## Post-incident checklist', '');
  for (const entry of pm.checklist) lines.push(`- [${entry.done ? 'x' : ' '}] ${entry.item} (${entry.original})`);
  lines.push('');
  return lines.join('\n');
}

// ---- Mermaid ------------------------------------------------------------------------------------

function gantt(pm: Postmortem): string[] {
  const ms = (iso: string) => Date.parse(iso);
  const end = ms(pm.times.closed ?? pm.timeline.at(-1)?.at ?? pm.times.started);
  const out = [
    'gantt',
    `  title ${label(pm.summary.incidentId ?? pm.source.workflowId)}`,
    '  dateFormat x',
    '  axisFormat %H:%M:%S',
  ];
  let n = 0;
  const bar = (name: string, from: number, to: number, tags: string[] = []) => {
    n += 1;
    const stop = Math.max(to, from + 1);
    out.push(`  ${label(name)} :${[...tags, `t${n}`].join(', ')}, ${from}, ${stop}`);
  };
  const milestone = (name: string, at: number) => {
    n += 1;
    out.push(`  ${label(name)} :milestone, t${n}, ${at}, ${at}`);
  };

  const t = pm.times;
  const detected = ms(t.detected ?? t.started);
  out.push('  section Incident');
  bar(`Waiting for acknowledgement`, detected, t.acknowledged ? ms(t.acknowledged) : end, ['crit']);
  const mitigatedAt = t.mitigated ? ms(t.mitigated) : undefined;
  bar('Until mitigated', detected, mitigatedAt ?? ms(t.resolved ?? t.closed ?? new Date(end).toISOString()), [
    'active',
  ]);
  if (t.resolved) bar('Until resolved', mitigatedAt ?? detected, ms(t.resolved));
  if (t.closed) milestone(`Closed ${pm.summary.status}`, ms(t.closed));

  const steps = pm.activities.filter((a) => !SLACK_ACTIVITIES.has(a.name));
  if (steps.length > 0) {
    out.push('  section Runbook');
    for (const activity of steps.slice(0, GANTT_ACTIVITY_BARS)) {
      bar(activityLabel(activity), ms(activity.scheduledAt), ms(activity.closedAt ?? new Date(end).toISOString()), [
        ...(activity.outcome === 'failed' || activity.outcome === 'timed_out' ? ['crit'] : []),
        ...(activity.outcome === 'completed' ? ['done'] : []),
      ]);
    }
    const rest = steps.slice(GANTT_ACTIVITY_BARS);
    if (rest.length > 0) {
      const last = rest.at(-1)!;
      bar(`${rest.length} more activities`, ms(rest[0]!.scheduledAt), ms(last.closedAt ?? last.scheduledAt));
    }
  }

  const gates = gateSpans(pm, end);
  if (gates.length > 0) {
    out.push('  section Gates');
    for (const gate of gates) bar(gate.name, gate.from, gate.to, gate.decided ? ['done'] : ['active']);
  }
  if (pm.escalations.length > 0) {
    out.push('  section Escalations');
    for (const escalation of pm.escalations.slice(0, GANTT_ACTIVITY_BARS)) {
      milestone(`Paged ${escalation.tier}`, ms(escalation.at));
    }
  }
  if (pm.mitigations.length > 0) {
    out.push('  section Mitigations');
    for (const m of pm.mitigations)
      bar(m.key, ms(m.appliedAt), m.restoredAt ? ms(m.restoredAt) : end, m.restored ? [] : ['crit']);
  }
  return out;
}

/** A gate waits from its request until its decision (or its timeout, or now). */
function gateSpans(pm: Postmortem, end: number): { name: string; from: number; to: number; decided: boolean }[] {
  return pm.gates.map((gate) => ({
    name: `gate ${gate.name}`,
    from: Date.parse(gate.requestedAt),
    to: gate.decidedAt ? Date.parse(gate.decidedAt) : end,
    decided: gate.status !== 'pending',
  }));
}

function activityLabel(activity: ActivityRecord): string {
  const detail = activity.inputSummary ? ` ${activity.inputSummary}` : '';
  const full = `${activity.name}${detail}`;
  return full.length > 60 ? `${full.slice(0, 57)}...` : full;
}

/** Mermaid task names end at `:` and comments start at `%%`; `#` and `;` break some renderers. */
function label(value: string): string {
  return (
    value
      .replace(/[:;#%]/g, ' ')
      .replace(/\s+/g, ' ')
      .trim() || '-'
  );
}

// ---- Markdown ----------------------------------------------------------------------------------

/** A table column: its header and how a row fills its cell. */
type Column<T> = [header: string, cell: (row: T) => string];

/** A heading, then the table of `rows` — or `whenEmpty` in its place when there are none. */
function section<T>(
  lines: string[],
  heading: string,
  rows: readonly T[],
  whenEmpty: string | undefined,
  columns: Column<T>[],
): void {
  const body =
    rows.length === 0 && whenEmpty !== undefined
      ? whenEmpty
      : table(
          columns.map(([header]) => header),
          rows.map((row) => columns.map(([, cell]) => cell(row))),
        );
  lines.push(heading, '', body, '');
}

function table(header: string[], rows: string[][]): string {
  const head = `| ${header.join(' | ')} |`;
  const rule = `|${header.map(() => '---').join('|')}|`;
  return [head, rule, ...rows.map((row) => `| ${row.join(' | ')} |`)].join('\n');
}

/** Table cells: pipes escaped, newlines kept as line breaks, Markdown/HTML specials neutralised. */
function text(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/\r?\n/g, '<br>');
}

function code(value: string): string {
  return `\`${value.replace(/`/g, "'")}\``;
}

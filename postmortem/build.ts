/**
 * History events → postmortem model: reduce.ts reads the events into facts, derive.ts works out
 * what they add up to, and this assembles the two. Pure apart from hashing: the same events give
 * the same postmortem, whether they came from `fetchHistory()`, `temporal workflow show -o json`
 * (through `historyFromJSON`) or a recorded file. Built from events, not from a query, so it works
 * without a worker, on running and closed incidents alike, and shows what really happened
 * (attempts, durations, failures) rather than what the workflow chose to remember.
 */
import type { PayloadConverter } from '@temporalio/common';
import { describeChange } from '../domain/mitigations';
import { CHECKLIST } from './checklist';
import { wouldChangeText } from '../domain/rehearsal';
import {
  escalationsFrom,
  evidenceFrom,
  gatesFrom,
  keyTimes,
  mitigationsFrom,
  narrativeFrom,
  wouldBeChangesFrom,
} from './derive';
import { triggerText } from './describe';
import { HistoryDigest } from './digest';
import { incidentBuild, type HistoryEvent, type IncidentBuild } from './history';
import { POSTMORTEM_SCHEMA_VERSION, type Postmortem } from './model';
import { historyReducer, pushTimeline, type HistoryFacts } from './reduce';
import { redact, redactText } from './redact';

export interface BuildOptions {
  workflowId: string;
  runId?: string;
  /** Fixed in tests so exports compare byte for byte. */
  generatedAt?: Date;
  payloadConverter?: PayloadConverter;
}

export function buildPostmortem(events: HistoryEvent[], options: BuildOptions): Postmortem {
  const builder = new PostmortemBuilder(options.payloadConverter);
  builder.add(events);
  return builder.finish(options);
}

/**
 * The postmortem built page by page: each page of the history is reduced and hashed as it arrives
 * (while the next one is on its way), and nothing keeps the events themselves.
 */
export class PostmortemBuilder {
  private readonly reducer: ReturnType<typeof historyReducer>;
  private readonly digest = new HistoryDigest();
  private length = 0;
  private build: IncidentBuild | undefined;

  constructor(payloadConverter?: PayloadConverter) {
    this.reducer = historyReducer(payloadConverter);
  }

  add(events: Iterable<HistoryEvent>): void {
    for (const event of events) {
      this.reducer.apply(event);
      this.digest.add(event);
      this.build ??= incidentBuild([event]);
      this.length++;
    }
  }

  finish(options: BuildOptions): Postmortem {
    const history = { length: this.length, digest: this.digest.value(), build: this.build };
    return assemble(this.reducer.facts(), history, options);
  }
}

function assemble(
  facts: HistoryFacts,
  history: { length: number; digest: string; build: IncidentBuild | undefined },
  options: BuildOptions,
): Postmortem {
  const { started, input, startedAt, activities, timeline, failures, found, executionStatus, closedAt } = facts;
  const record = found?.record;
  const { build } = history;
  const escalations = escalationsFrom(activities);
  for (const escalation of escalations) {
    pushTimeline(
      timeline,
      escalation.at,
      'escalation',
      `Escalated to ${escalation.tier}: ${escalation.reason}`,
      escalation.eventId,
    );
  }
  const mitigations = mitigationsFrom(facts);
  for (const m of mitigations) {
    pushTimeline(timeline, m.appliedAt, 'mitigation', `Mitigation ${m.key}: ${describeChange(m.change)}`, 0);
    if (m.restoredAt) {
      pushTimeline(
        timeline,
        m.restoredAt,
        'restoration',
        `Restored ${m.key} to ${String(m.change.previous ?? 'unset')}`,
        0,
      );
    }
  }
  const rehearsal = input?.rehearsal !== undefined;
  const wouldBeChanges = rehearsal ? wouldBeChangesFrom(activities, input?.target) : [];
  for (const change of wouldBeChanges) {
    const text = `REHEARSAL: ${wouldChangeText(change.target, change.what)} (dry run, not changed)`;
    pushTimeline(timeline, change.at, 'mitigation', text, change.eventId);
  }
  if (record?.failure) {
    failures.push({
      at: record.closedAt ?? closedAt ?? startedAt,
      where: 'runbook',
      what: record.outcome ?? 'runbook',
      failure: redact(record.failure),
    });
  }
  const gates = gatesFrom(activities, record, facts.decisions);
  const times = keyTimes(facts);
  timeline.sort((a, b) => (a.at === b.at ? a.eventId - b.eventId : a.at < b.at ? -1 : 1));
  const closed = executionStatus !== 'running';
  const status = record?.status ?? facts.statusChanges.at(-1)?.status ?? 'open';

  return {
    schemaVersion: POSTMORTEM_SCHEMA_VERSION,
    generatedAt: (options.generatedAt ?? new Date()).toISOString(),
    source: {
      workflowId: options.workflowId,
      ...(options.runId ? { runId: options.runId } : {}),
      workflowType: started.workflowType?.name ?? '?',
      ...(started.taskQueue?.name ? { taskQueue: started.taskQueue.name } : {}),
      historyLength: history.length,
      historyDigest: history.digest,
      executionStatus,
      recordSource: found?.source ?? 'none',
      ...(started.continuedExecutionRunId ? { continuedFromRunId: started.continuedExecutionRunId } : {}),
      ...(build ? { build } : {}),
    },
    summary: {
      ...(input?.incidentId ? { incidentId: input.incidentId } : {}),
      ...(input?.title ? { title: input.title } : {}),
      ...(input?.runbook ? { runbook: input.runbook } : {}),
      ...(input?.definition ? { runbookFile: { file: input.definition.file, sha256: input.definition.hash } } : {}),
      ...(input?.target ? { target: input.target } : {}),
      targets: input?.targets ?? (input?.target ? [input.target] : []),
      ...(input?.severity ? { severity: input.severity } : {}),
      ...(input?.trigger ? { trigger: redact(input.trigger) } : {}),
      triggeredBy: triggerText(input),
      status: closed && !record && status === 'open' ? executionStatus : status,
      ...(record?.outcome ? { outcome: redactText(record.outcome) } : {}),
      ...(record?.failure ? { failure: redact(record.failure) } : {}),
      ...(record?.cancellation ? { cancellation: redact(record.cancellation) } : {}),
      ...(input?.params ? { params: redact(input.params) } : {}),
      ...(rehearsal ? { rehearsal: true } : {}),
    },
    times,
    activities,
    gates,
    decisions: facts.decisions,
    signals: facts.signals,
    timers: facts.timers,
    escalations,
    mitigations,
    evidence: evidenceFrom(activities),
    statusChanges: facts.statusChanges,
    markers: facts.markers,
    failures,
    ...(rehearsal ? { wouldBeChanges: redact(wouldBeChanges) } : {}),
    timeline,
    narrative: narrativeFrom(activities, found),
    checklist: CHECKLIST.map((entry) => ({ ...entry, done: false })),
  };
}

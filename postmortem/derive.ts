/**
 * What the history's facts add up to: escalations, gates, the mitigation ledger, the runbook's own
 * narrative and the key times. Each reads the facts reduce.ts gathered; none reads events.
 */
import type { GateState, IncidentRecord, Target, TimelineEntry } from '../common/types';
import {
  envChanges,
  mitigationKey,
  replicaChanges,
  resourceChanges,
  type EnvChangeResult,
  type MitigationChange,
  type ResourceChangeResult,
} from '../domain/mitigations';
import { isChangeActivity, wouldBeChanges } from '../domain/rehearsal';
import { ACTIVITY, EVIDENCE_CAPTURES, mitigationKindOf } from './activity-names';
import { asActor, isGate } from './describe';
import { field } from './history';
import type {
  ActivityRecord,
  DecisionRecord,
  EscalationRecord,
  EvidenceRecord,
  GateRecord,
  KeyTimes,
  MitigationSummary,
  RecordFound,
  WouldBeChangeRecord,
} from './model';
import type { HistoryFacts } from './reduce';
import { redact } from './redact';

const ESCALATION_ACTIVITIES: ReadonlySet<string> = new Set([
  ACTIVITY.slackEscalation,
  ACTIVITY.page,
  ACTIVITY.emailPage,
]);

/** Escalations as the kernel sent them: Slack tier mentions, PagerDuty pages and page emails. */
export function escalationsFrom(activities: ActivityRecord[]): EscalationRecord[] {
  return activities
    .filter((activity) => ESCALATION_ACTIVITIES.has(activity.name))
    .map((activity) => {
      const input = (activity.input ?? {}) as Record<string, unknown>;
      const details = (input.details ?? {}) as Record<string, unknown>;
      const pagerDuty = activity.name === ACTIVITY.page;
      const channel = pagerDuty ? 'pagerduty' : activity.name === ACTIVITY.emailPage ? 'email' : 'slack';
      return {
        at: activity.scheduledAt,
        tier: String((pagerDuty ? details.tier : input.tier) ?? (pagerDuty ? 'PagerDuty' : 'on-call')),
        channel,
        reason: String((pagerDuty ? input.summary : (input.text ?? input.reason)) ?? ''),
        eventId: activity.eventId,
        outcome: activity.outcome,
      } satisfies EscalationRecord;
    });
}

/** Evidence the runbook kept: each completed capture, with the Slack file it was posted as. */
export function evidenceFrom(activities: ActivityRecord[]): EvidenceRecord[] {
  const posted = new Map<string, string>();
  for (const activity of activities) {
    if (activity.name !== ACTIVITY.evidenceShared || activity.outcome !== 'completed') continue;
    const name = field(field(activity.input, 'artefact'), 'name');
    const fileId = field(activity.result, 'fileId');
    if (typeof name === 'string' && typeof fileId === 'string') posted.set(name, fileId);
  }
  const kept: EvidenceRecord[] = [];
  for (const activity of activities) {
    if (!EVIDENCE_CAPTURES.has(activity.name) || activity.outcome !== 'completed') continue;
    const ref = activity.result;
    const name = field(ref, 'name');
    const sha256 = field(ref, 'sha256');
    const bytes = field(ref, 'bytes');
    if (typeof name !== 'string' || typeof sha256 !== 'string' || typeof bytes !== 'number') continue;
    const copies = field(ref, 'copies');
    const fileId = posted.get(name);
    kept.push({
      name,
      source: String(field(ref, 'source') ?? ''),
      bytes,
      sha256,
      truncated: field(ref, 'truncated') === true,
      capturedAt: String(field(ref, 'capturedAt') ?? activity.closedAt ?? activity.scheduledAt),
      path: String(field(ref, 'path') ?? ''),
      copies: Array.isArray(copies) ? copies.filter((c): c is string => typeof c === 'string') : [],
      ...(fileId ? { slackFileId: fileId } : {}),
      eventId: activity.eventId,
    });
  }
  return redact(kept);
}

/** The runbook's own account: from its result when closed, else from the snapshots and thread posts. */
export function narrativeFrom(activities: ActivityRecord[], found: RecordFound): TimelineEntry[] {
  if (found?.source === 'result') return redact(found.record.timeline);
  const entries = new Map<string, TimelineEntry>();
  const add = (entry: unknown) => {
    if (typeof field(entry, 'at') !== 'string' || typeof field(entry, 'message') !== 'string') return;
    const typed = entry as TimelineEntry;
    entries.set(`${typed.at}\u0000${typed.message}`, typed);
  };
  for (const entry of found?.record.timeline ?? []) add(entry);
  for (const activity of activities) {
    if (activity.name === ACTIVITY.threadEntry) add(field(activity.input, 'entry'));
  }
  return redact([...entries.values()].sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0)));
}

/**
 * Gates as the history knows them: the approval requests the workflow posted, the gates of the
 * latest incident record it holds, and the decisions that came after that record.
 */
export function gatesFrom(
  activities: ActivityRecord[],
  record: IncidentRecord | undefined,
  decisions: DecisionRecord[],
): GateRecord[] {
  const gates = new Map<string, GateRecord>();
  const merge = (gate: GateState) => {
    const known = gates.get(gate.name);
    gates.set(gate.name, redact({ ...known, ...gate, decidedBy: asActor(gate.decidedBy) ?? known?.decidedBy }));
  };
  for (const activity of activities) {
    const gate = field(activity.input, 'gate');
    if (activity.name === ACTIVITY.approvalRequest && isGate(gate)) merge(gate);
  }
  for (const gate of record?.gates ?? []) merge(gate);
  for (const decision of decisions) {
    const gate = decision.gate ? gates.get(decision.gate) : undefined;
    if (!gate || gate.status !== 'pending' || decision.outcome !== 'completed' || !decision.gateStatus) continue;
    // One approval of several: the gate is still waiting.
    if (decision.gateStatus === 'pending') continue;
    Object.assign(gate, {
      status: decision.gateStatus,
      decidedAt: decision.at,
      ...(decision.actor ? { decidedBy: decision.actor } : {}),
      ...(decision.choice ? { choice: decision.choice } : {}),
    });
  }
  const byRequest = (a: GateRecord, b: GateRecord) =>
    a.requestedAt < b.requestedAt ? -1 : a.requestedAt > b.requestedAt ? 1 : 0;
  return [...gates.values()].sort(byRequest).map((gate) => {
    const { decidedBy, ...rest } = gate;
    return decidedBy ? { ...rest, decidedBy } : rest;
  });
}

/** The ledger from the incident record when the history holds one, else rebuilt from the remediations. */
export function mitigationsFrom(facts: HistoryFacts): MitigationSummary[] {
  const record = facts.found?.record;
  return record?.mitigations.length
    ? record.mitigations.map(fromRecord)
    : mitigationsFromActivities(facts.activities, facts.input?.target);
}

function fromRecord(m: IncidentRecord['mitigations'][number]): MitigationSummary {
  return redact({
    key: m.key,
    target: m.target,
    change: m.change,
    appliedAt: m.appliedAt,
    restored: m.restoredAt !== undefined,
    ...(m.restoredAt ? { restoredAt: m.restoredAt } : {}),
    ...(m.restoreNote ? { restoreNote: m.restoreNote } : {}),
  });
}

/**
 * No incident record in the history yet (a running incident that never published its card):
 * the ledger is rebuilt from the remediation activities' own results, which report what they
 * replaced. Restores are the same activities under the `<incident>:restore` marker.
 */
function mitigationsFromActivities(activities: ActivityRecord[], fallbackTarget?: Target): MitigationSummary[] {
  const ledger = new Map<string, MitigationSummary>();
  for (const activity of activities) {
    if (mitigationKindOf(activity.name) === undefined || activity.outcome !== 'completed') continue;
    const input = (activity.input ?? {}) as Record<string, unknown>;
    if (input.dryRun === true) continue;
    const target: Target =
      typeof input.namespace === 'string' && typeof input.deployment === 'string'
        ? { namespace: input.namespace, deployment: input.deployment }
        : (fallbackTarget ?? { namespace: '?', deployment: '?' });
    const restoring = typeof input.incidentId === 'string' && input.incidentId.endsWith(':restore');
    for (const change of changesOf(activity)) {
      const key = mitigationKey(target, change);
      const known = ledger.get(key);
      if (restoring) {
        if (known && !known.restored) Object.assign(known, { restored: true, restoredAt: activity.closedAt });
        continue;
      }
      if (known && !known.restored) continue;
      ledger.set(key, { key, target, change, appliedAt: activity.closedAt ?? activity.scheduledAt, restored: false });
    }
  }
  return [...ledger.values()];
}

/** A remediation's result as recorded (redacted, possibly from an older build): read defensively. */
function changesOf(activity: ActivityRecord): MitigationChange[] {
  const result = (activity.result ?? {}) as Record<string, unknown>;
  const container = String(result.container ?? '?');
  switch (mitigationKindOf(activity.name)) {
    case 'replicas':
      if (typeof result.previousReplicas !== 'number') return [];
      return replicaChanges({ previousReplicas: result.previousReplicas, replicas: Number(result.replicas) });
    case 'env': {
      const { previous = {}, applied = {} } = result as Partial<EnvChangeResult>;
      return envChanges({ container, previous, applied });
    }
    case 'resources': {
      const { previous = {}, applied = {} } = result as Partial<Record<'previous' | 'applied', unknown>>;
      return resourceChanges({
        container,
        previous: previous as ResourceChangeResult['previous'],
        applied: applied as ResourceChangeResult['applied'],
      });
    }
    default:
      return [];
  }
}

/** A rehearsal's would-be changes: each dry-run remediation it sent, in the words of the real change. */
export function wouldBeChangesFrom(activities: ActivityRecord[], fallbackTarget?: Target): WouldBeChangeRecord[] {
  const changes: WouldBeChangeRecord[] = [];
  for (const activity of activities) {
    if (!isChangeActivity(activity.name) || activity.outcome !== 'completed') continue;
    const raw: unknown = Array.isArray(activity.input) ? activity.input[0] : activity.input;
    const input = (raw ?? {}) as Record<string, unknown>;
    if (input.dryRun !== true) continue;
    const target: Target =
      typeof input.namespace === 'string' && typeof input.deployment === 'string'
        ? { namespace: input.namespace, deployment: input.deployment }
        : (fallbackTarget ?? { namespace: '?', deployment: '?' });
    for (const what of wouldBeChanges(activity.name, activity.result)) {
      changes.push({
        at: activity.closedAt ?? activity.scheduledAt,
        target,
        activity: activity.name,
        what,
        eventId: activity.eventId,
      });
    }
  }
  return changes;
}

/** Detection, acknowledgement, mitigation, resolution and closure, with MTTA, time to mitigate and MTTR. */
export function keyTimes(facts: HistoryFacts): KeyTimes {
  const { input, startedAt, statusChanges, acknowledged, closedAt } = facts;
  const record = facts.found?.record;
  const statusAt = (status: string) => statusChanges.find((change) => change.status === status)?.at;
  const detected = input?.detectedAt ?? startedAt;
  const acknowledgedAt = acknowledged?.at ?? record?.acknowledgedAt;
  const mitigatedAt = statusAt('mitigated') ?? record?.mitigatedAt;
  const resolvedAt = statusAt('resolved') ?? record?.resolvedAt;
  const since = (to: string | undefined) => (to ? Math.max(0, Date.parse(to) - Date.parse(detected)) : undefined);
  const acknowledgedBy = acknowledged?.actor ?? record?.acknowledgedBy;
  return {
    ...(input?.detectedAt ? { detected: input.detectedAt } : { detected: startedAt }),
    started: startedAt,
    ...(acknowledgedAt ? { acknowledged: acknowledgedAt } : {}),
    ...(acknowledgedBy ? { acknowledgedBy } : {}),
    ...(mitigatedAt ? { mitigated: mitigatedAt } : {}),
    ...(resolvedAt ? { resolved: resolvedAt } : {}),
    ...(closedAt ? { closed: closedAt } : {}),
    ...(acknowledgedAt ? { mttaMs: since(acknowledgedAt) } : {}),
    ...(mitigatedAt ? { ttmMs: since(mitigatedAt) } : {}),
    ...(resolvedAt ? { mttrMs: since(resolvedAt) } : {}),
  };
}

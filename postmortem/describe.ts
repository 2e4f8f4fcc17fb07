/**
 * How the postmortem words what the history holds: activity calls, signals, decisions, timers,
 * triggers, actors, failures and durations. Secrets are redacted on the way (redact.ts).
 */
import type proto from '@temporalio/proto';
import type { IncidentInput, IncidentPolicy } from '../common/incident';
import type { Actor, GateState } from '../common/types';
import type { ActivityName } from '../activities';
import { ACTIVITY } from './activity-names';
import { field } from './history';
import type { ActivityRecord, DecisionRecord, FailureDetail } from './model';
import { redact, redactText } from './redact';

type Failure = proto.temporal.api.failure.v1.IFailure | null | undefined;

/** The arguments an SRE needs to recognise each call, never the whole payload. */
const SUMMARY_FIELDS: Partial<Record<ActivityName, string[]>> = {
  setDeploymentEnv: ['env'],
  scaleDeployment: ['replicas'],
  setContainerResources: ['limits', 'requests'],
  rolloutUndo: ['toRevision'],
  checkHealth: ['url', 'expectStatus'],
  listRecentEvents: ['limit'],
  postEscalation: ['tier'],
  triggerPage: ['severity'],
  execInPod: ['pod', 'command'],
  captureHeapProfile: ['pod', 'container', 'url'],
  capturePreviousLogs: ['pod', 'container', 'tailLines'],
  analyzeMemoryTrend: ['selector', 'windowSeconds'],
  findAvalancheRootCauseHints: ['services'],
  checkCollectorDrops: ['selector', 'receivers', 'exporters', 'windowSeconds'],
  postApprovalRequest: [],
};

export function attemptsNote(activity: ActivityRecord): string {
  return activity.attempts > 1 ? ` after ${activity.attempts} attempts` : '';
}

export function summarizeInput(name: string, input: unknown): string {
  const value = (input ?? {}) as Record<string, unknown>;
  if (typeof input !== 'object' || input === null) return input === undefined ? '' : redactText(String(input));
  const parts: string[] = [];
  if (typeof value.namespace === 'string' && typeof value.deployment === 'string') {
    parts.push(`${value.namespace}/${value.deployment}`);
  } else if (typeof value.namespace === 'string') {
    parts.push(`namespace ${value.namespace}`);
  }
  if (value.dryRun === true) parts.push('dry run');
  for (const key of (SUMMARY_FIELDS as Record<string, string[] | undefined>)[name] ?? []) {
    if (value[key] === undefined) continue;
    parts.push(`${key}=${JSON.stringify(redact({ [key]: value[key] })[key])}`);
  }
  if (name === ACTIVITY.approvalRequest || name === ACTIVITY.approvalClosed) {
    const gate = field(value, 'gate');
    if (gate && typeof field(gate, 'name') === 'string') parts.push(`gate ${String(field(gate, 'name'))}`);
  }
  if (name === ACTIVITY.threadEntry) {
    const entry = field(value, 'entry');
    if (entry && typeof field(entry, 'kind') === 'string') parts.push(String(field(entry, 'kind')));
  }
  return redactText(parts.join(', '));
}

export function signalSummary(name: string, payload: Record<string, unknown>, actor: Actor | undefined): string {
  if (name === 'resolve') {
    return `Resolution requested by ${actorText(actor)}${typeof payload.note === 'string' ? `: ${payload.note}` : ''}`;
  }
  if (name === 'alerts' && Array.isArray(payload)) {
    // Notifications the ingress coalesced into one signal; the latest carries the group's state.
    const batch: unknown[] = payload;
    const latest = batch.at(-1);
    const last =
      latest && typeof latest === 'object' ? signalSummary('alert', latest as Record<string, unknown>, actor) : '';
    return `${batch.length} alert notifications coalesced${last ? `; the latest: ${last}` : ''}`;
  }
  if (name === 'alert') {
    const alerts = Array.isArray(payload.alerts) ? payload.alerts : [];
    const head = `Alert notification from ${String(payload.source ?? '?')} (${String(payload.status ?? '?')})`;
    const counts = payload.counts;
    if (counts && typeof counts === 'object') {
      // The ingress counted the whole notification; the alerts carried are a few of them.
      const count = (name: string) => Number(field(counts, name) ?? 0);
      const withheld = count('withheld') > 0 ? `, ${count('withheld')} withheld by the sender` : '';
      return `${head}: ${count('firing')} firing, ${count('resolved')} resolved${withheld}`;
    }
    const firing = alerts.filter((alert) => field(alert, 'status') === 'firing').length;
    return `${head}: ${firing} firing, ${alerts.length - firing} resolved${Number(payload.truncatedAlerts) > 0 ? `, ${String(payload.truncatedAlerts)} truncated` : ''}`;
  }
  return `Signal ${name}${actor ? ` from ${actorText(actor)}` : ''}`;
}

export function decisionText(decision: DecisionRecord): string {
  const who = actorText(decision.actor);
  if (decision.outcome === 'failed') return `${decision.kind} by ${who} failed: ${decision.failure?.message ?? '?'}`;
  if (decision.kind === 'acknowledge') return `Acknowledged by ${who}${decision.note ? `: ${decision.note}` : ''}`;
  const verb = decision.kind === 'approve' ? 'approved' : decision.kind === 'reject' ? 'rejected' : decision.kind;
  const choice = decision.choice ? ` (choice ${decision.choice})` : '';
  const comment = decision.comment ? ` — "${decision.comment}"` : '';
  return `Gate ${decision.gate ?? '?'} ${verb}${choice} by ${who}${comment}`;
}

export function timerPurpose(durationMs: number, input: Partial<IncidentInput> | undefined): string | undefined {
  const policy: Partial<IncidentPolicy> = input?.policy ?? {};
  if (input?.severity && policy.ackDeadlineMs?.[input.severity] === durationMs) return 'acknowledgement deadline';
  const named: [keyof IncidentPolicy, string][] = [
    ['repageIntervalMs', 're-page interval'],
    ['gateEscalateAfterMs', 'gate escalation'],
    ['gateDeadlineMs', 'gate deadline'],
    ['restoreAfterMs', 'automatic restore'],
    ['maxOpenMs', 'maximum open time'],
  ];
  const matches = named.filter(([key]) => policy[key] === durationMs).map(([, name]) => name);
  return matches.length > 0 ? matches.join(' or ') : undefined;
}

export function triggerText(input: Partial<IncidentInput> | undefined): string {
  const trigger = input?.trigger;
  if (!trigger) return 'unknown';
  if (trigger.kind === 'alert') return `alert from ${trigger.source} (receiver ${trigger.receiver})`;
  if (trigger.kind === 'slack') return `${trigger.userName ?? trigger.user} on Slack`;
  return `${trigger.user} (CLI)`;
}

export function actorText(actor: Actor | undefined): string {
  return actor ? (actor.name && actor.name !== actor.id ? `${actor.name} (${actor.id})` : actor.id) : 'unknown';
}

export function failureDetail(failure: Failure): FailureDetail {
  // An activity failure wraps the application failure that says what really went wrong.
  let inner = failure;
  while (inner?.cause && !inner.applicationFailureInfo) inner = inner.cause;
  const info = inner?.applicationFailureInfo;
  return {
    message: redactText(inner?.message ?? failure?.message ?? 'unknown failure'),
    ...(info?.type ? { type: info.type } : inner?.timeoutFailureInfo ? { type: 'TIMEOUT' } : {}),
    ...(info ? { nonRetryable: Boolean(info.nonRetryable) } : {}),
  };
}

export function asActor(value: unknown): Actor | undefined {
  if (typeof value !== 'object' || value === null || typeof field(value, 'id') !== 'string') return undefined;
  const actor = value as Actor;
  return { id: actor.id, ...(actor.name ? { name: actor.name } : {}) };
}

export function isGate(value: unknown): value is GateState {
  return typeof value === 'object' && value !== null && typeof field(value, 'name') === 'string';
}

export function formatMs(ms: number): string {
  if (ms < 1_000) return `${ms} ms`;
  if (ms < 120_000) return `${+(ms / 1_000).toFixed(1)} s`;
  if (ms < 7_200_000) return `${+(ms / 60_000).toFixed(1)} min`;
  return `${+(ms / 3_600_000).toFixed(1)} h`;
}

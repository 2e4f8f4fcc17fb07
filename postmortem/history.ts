/**
 * Reading an incident from its workflow history — the one reader the postmortem and `firebreak
 * status` share: payloads, times, and the incident record a history carries (the workflow's
 * result, or the latest snapshot: a card it published, an acknowledgement it answered).
 */
// The converter alone: @temporalio/common's index loads much more, and the CLI starts cold.
import { defaultPayloadConverter, type PayloadConverter } from '@temporalio/common/lib/converter/payload-converter';
import type proto from '@temporalio/proto';
import type { IncidentRecord } from '../common/types';
import { ACTIVITY } from './activity-names';

export type HistoryEvent = proto.temporal.api.history.v1.IHistoryEvent;
export type Payloads = proto.temporal.api.common.v1.IPayloads | null | undefined;
type Timestamp = { seconds?: unknown; nanos?: number | null } | null | undefined;

export type Decode = (payloads: Payloads) => unknown;

/**
 * Decodes the first payload of a Payloads message; one that cannot be decoded reads as a marker
 * string rather than failing the whole export. Each message is decoded once, however often asked.
 */
export function payloadDecoder(converter: PayloadConverter = defaultPayloadConverter): Decode {
  const decoded = new WeakMap<object, unknown>();
  return (payloads) => {
    const first = payloads?.payloads?.[0];
    if (!payloads || !first) return undefined;
    if (decoded.has(payloads)) return decoded.get(payloads);
    let value: unknown;
    try {
      value = converter.fromPayload(first);
    } catch {
      value = '<undecodable payload>';
    }
    decoded.set(payloads, value);
    return value;
  };
}

export type RecordSource = 'result' | 'snapshot';

/** The incident record an event carries, if it carries one. */
export function recordIn(
  event: HistoryEvent,
  decode: Decode,
): { record: IncidentRecord; source: RecordSource } | undefined {
  const completed = event.workflowExecutionCompletedEventAttributes;
  if (completed) return found(decode(completed.result), 'result');
  const updated = event.workflowExecutionUpdateCompletedEventAttributes?.outcome?.success;
  if (updated) return found(decode(updated), 'snapshot');
  const scheduled = event.activityTaskScheduledEventAttributes;
  if (scheduled?.activityType?.name === ACTIVITY.card)
    return found(field(decode(scheduled.input), 'incident'), 'snapshot');
  return undefined;
}

/** The latest incident record in a history: what `firebreak status` shows when no worker answers. */
export function latestRecord(events: HistoryEvent[], converter?: PayloadConverter): IncidentRecord | undefined {
  const decode = payloadDecoder(converter);
  for (let i = events.length - 1; i >= 0; i--) {
    const carried = recordIn(events[i]!, decode);
    if (carried) return carried.record;
  }
  return undefined;
}

function found(value: unknown, source: RecordSource) {
  return isIncidentRecord(value) ? { record: value, source } : undefined;
}

export function isIncidentRecord(value: unknown): value is IncidentRecord {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof field(value, 'id') === 'string' &&
    Array.isArray(field(value, 'timeline')) &&
    Array.isArray(field(value, 'mitigations'))
  );
}

export function field(value: unknown, name: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[name] : undefined;
}

export function tsToMs(ts: Timestamp): number {
  if (!ts) return 0;
  return int64(ts.seconds) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6);
}

/**
 * An int64 field as a number (event ids, a timestamp's seconds). Decoded, it is a Long: read from
 * its two halves, since `Number(long)` and `String(long)` run Long's division loop — several times
 * per event of an export.
 */
export function int64(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'object' && value !== null && 'low' in value && 'high' in value) {
    const { low, high } = value as { low: number; high: number };
    if (high >= 0 && high < 0x200000) return high * 4294967296 + (low >>> 0);
  }
  return Number(String(value ?? 0));
}

export function tsToIso(ts: Timestamp): string {
  return new Date(tsToMs(ts)).toISOString();
}

/** The Worker Deployment build that ran the incident's workflow tasks (pinned: one build per run). */
export interface IncidentBuild {
  deploymentName: string;
  buildId: string;
}

/**
 * The build of the first versioned workflow task: a pinned incident runs on it to the end. Unset
 * when the history was made by unversioned workers (FIREBREAK_WORKER_VERSIONING=false, older engines).
 */
export function incidentBuild(events: HistoryEvent[]): IncidentBuild | undefined {
  for (const event of events) {
    const version = event.workflowTaskCompletedEventAttributes?.deploymentVersion;
    if (version?.buildId) return { deploymentName: version.deploymentName ?? '', buildId: version.buildId };
  }
  return undefined;
}

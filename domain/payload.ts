/**
 * Every payload the incident hands Temporal (activity inputs, continue-as-new input, query answers,
 * its result) is measured before it goes: Temporal refuses a payload over 2 MB by failing the
 * workflow task or terminating the run, so a record that grew past what was foreseen must shrink
 * here, with what was left out said in its place, rather than reach the server. Pure: the workflow
 * sandbox runs it.
 */
import type { IncidentRecord, TimelineEntry } from '../common/types';

/** Temporal's own limit on one payload (the server's default blob size limit). */
export const TEMPORAL_PAYLOAD_LIMIT_BYTES = 2 * 1024 * 1024;
/** What the incident allows itself per payload: a quarter of the limit leaves room for the envelope and for growth. */
export const PAYLOAD_BUDGET_BYTES = 512 * 1024;

const MAX_TEXT_CHARS = 2_000;
const MAX_ENTRY_DATA_BYTES = 2_048;

/** UTF-8 bytes of the value's JSON, counted without encoding it (encoding megabytes costs seconds). */
export function jsonBytes(value: unknown): number {
  const text = JSON.stringify(value) ?? '';
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) continue;
    if (code < 0x800) bytes += 1;
    else if (code >= 0xd800 && code <= 0xdbff) {
      // A surrogate pair: two UTF-16 units, four bytes.
      bytes += 2;
      i += 1;
    } else bytes += 2;
  }
  return bytes;
}

function clampText(text: string): string {
  return text.length <= MAX_TEXT_CHARS ? text : `${text.slice(0, MAX_TEXT_CHARS - 1)}…`;
}

function clampEntry(entry: TimelineEntry): TimelineEntry {
  const message = clampText(entry.message);
  if (!entry.data || jsonBytes(entry.data) <= MAX_ENTRY_DATA_BYTES) return { ...entry, message };
  return { ...entry, message, data: { omitted: `${jsonBytes(entry.data)} bytes of details (in the history)` } };
}

/** A timeline entry as it may travel on its own (to the thread): itself, or shortened past `budget`. */
export function fitEntry(entry: TimelineEntry, budget = PAYLOAD_BUDGET_BYTES): TimelineEntry {
  return jsonBytes(entry) <= budget ? entry : clampEntry(entry);
}

/**
 * The record as it may travel: itself when it is within `budget` bytes of JSON; otherwise the same
 * record with, in this order until it fits, its alert details dropped (the counts stay exact),
 * long texts and details shortened, and the oldest timeline entries left out behind one entry
 * that says how many. The history keeps everything that was left out.
 */
export function fitRecord(record: IncidentRecord, budget = PAYLOAD_BUDGET_BYTES): IncidentRecord {
  if (jsonBytes(record) <= budget) return record;
  const fitted: IncidentRecord = {
    ...record,
    alerts: [],
    alertsPartial: record.alertsPartial || record.alerts.length > 0,
    outcome: record.outcome === undefined ? undefined : clampText(record.outcome),
    timeline: record.timeline.map(clampEntry),
  };
  if (record.outcome === undefined) delete fitted.outcome;
  let size = jsonBytes(fitted);
  if (size <= budget) return fitted;
  const timeline = fitted.timeline;
  let dropped = 0;
  while (size > budget && dropped < timeline.length) {
    size -= jsonBytes(timeline[dropped]) + 1;
    dropped += 1;
  }
  const first = timeline[0];
  const marker: TimelineEntry = {
    at: first ? first.at : record.openedAt,
    kind: 'note',
    message: `${dropped} earlier timeline entries left out to keep this record under ${budget} bytes; the workflow history holds them`,
  };
  return { ...fitted, timeline: [marker, ...timeline.slice(dropped)] };
}

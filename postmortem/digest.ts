/**
 * The history's fingerprint (`source.historyDigest`): a reader re-fetches the history and compares,
 * to check it was not altered.
 */
import { createHash } from 'node:crypto';
import proto from '@temporalio/proto';
import type { HistoryEvent } from './history';

/**
 * Digest of the history in a canonical form (proto JSON, sorted keys, empty messages dropped), so
 * the same history hashes the same whether it came over gRPC or from `temporal workflow show -o json`.
 */
export function historyDigest(events: HistoryEvent[]): string {
  const hash = createHash('sha256');
  const HistoryEventMessage = proto.temporal.api.history.v1.HistoryEvent;
  for (const event of events) {
    const plain = HistoryEventMessage.toObject(HistoryEventMessage.fromObject(event), {
      longs: String,
      enums: String,
      bytes: String,
    });
    hash.update(canonicalJson(plain));
    hash.update('\n');
  }
  return `sha256:${hash.digest('hex')}`;
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, inner]) => !isEmpty(inner))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([key, inner]) => `${JSON.stringify(key)}:${canonicalJson(inner)}`).join(',')}}`;
}

function isEmpty(value: unknown): boolean {
  if (value === undefined || value === null) return true;
  if (Array.isArray(value)) return value.length === 0;
  if (typeof value === 'object') return Object.values(value as Record<string, unknown>).every(isEmpty);
  return false;
}

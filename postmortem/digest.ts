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
  const digest = new HistoryDigest();
  for (const event of events) digest.add(event);
  return digest.value();
}

/** The same digest taken event by event, as pages of the history arrive. */
export class HistoryDigest {
  private readonly hash = createHash('sha256');

  add(event: HistoryEvent): void {
    const HistoryEventMessage = proto.temporal.api.history.v1.HistoryEvent;
    const plain = HistoryEventMessage.toObject(HistoryEventMessage.fromObject(event), {
      longs: String,
      enums: String,
      bytes: String,
    });
    this.hash.update(canonicalJson(plain));
    this.hash.update('\n');
  }

  value(): string {
    return `sha256:${this.hash.digest('hex')}`;
  }
}

/**
 * Canonical JSON in one pass: keys sorted, object fields whose value is empty (null, [], or an object
 * of empty fields, recursively) dropped; inside arrays every element stays.
 */
function canonicalJson(value: unknown): string {
  return canonical(value).text;
}

function canonical(value: unknown): { text: string; empty: boolean } {
  if (value === undefined || value === null) return { text: 'null', empty: true };
  if (Array.isArray(value)) {
    return { text: `[${value.map((item) => canonical(item).text).join(',')}]`, empty: value.length === 0 };
  }
  if (typeof value !== 'object') return { text: JSON.stringify(value), empty: false };
  const fields: string[] = [];
  for (const key of Object.keys(value).sort()) {
    const inner = canonical((value as Record<string, unknown>)[key]);
    if (!inner.empty) fields.push(`${JSON.stringify(key)}:${inner.text}`);
  }
  return { text: `{${fields.join(',')}}`, empty: fields.length === 0 };
}

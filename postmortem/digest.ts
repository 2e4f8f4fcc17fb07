/**
 * The history's fingerprint (`source.historyDigest`): a reader re-fetches the history and compares,
 * to check it was not altered.
 */
import { createHash } from 'node:crypto';
import type { HistoryEvent } from './history';
import { HistoryEventType, protobuf } from './history-proto';

/**
 * Digest of the history in a canonical form (proto JSON, sorted keys, empty messages dropped), so
 * the same history hashes the same whether it came over gRPC or from `temporal workflow show -o json`.
 * The proto JSON is protobufjs's `toObject(message, { longs: String, enums: String, bytes: String })`;
 * it is written here straight from the message, field by field in name order, without building it.
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
    // A plain object (not a decoded message) is converted first, as toObject's caller did with fromObject.
    const message = event instanceof protobuf.Message ? event : HistoryEventType.fromObject(event);
    this.hash.update(messageText(HistoryEventType, message) ?? '{}');
    this.hash.update('\n');
  }

  value(): string {
    return `sha256:${this.hash.digest('hex')}`;
  }
}

/**
 * How the canonical JSON of each message type is written; undefined for a message whose fields are
 * all empty (dropped where it is a field's value, `{}` inside a list and at the top).
 */
type Writer = (message: Record<string, unknown>) => string | undefined;
type ValueText = (value: unknown) => string | undefined;

const writers = new Map<protobuf.Type, Writer>();

function messageText(type: protobuf.Type, message: unknown): string | undefined {
  let writer = writers.get(type);
  if (!writer) {
    writer = messageWriter(type);
    writers.set(type, writer);
  }
  return writer(message as Record<string, unknown>);
}

/**
 * Field by field, as protobufjs's toObject decides: a plain field when it is the message's own and
 * not null, a list when it has elements, a map when it has keys; then the canonical form drops what
 * is empty — a message with no fields, a map whose values all are — and sorts the keys. Generated
 * per type, as protobufjs generates its own converters: each field read by name from one shape.
 */
function messageWriter(type: protobuf.Type): Writer {
  const fields = type.fieldsArray
    .map((field) => field.resolve())
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const texts = fields.map(valueText);
  const lines = ["let o = '', v, t;"];
  fields.forEach((field, i) => {
    const get = `m[${JSON.stringify(field.name)}]`;
    const key = JSON.stringify(`${JSON.stringify(field.name)}:`);
    if (field instanceof protobuf.MapField) {
      lines.push(`v = ${get}; if (v && (t = keys(v)).length && (t = map(v, t.sort(), texts[${i}])) !== undefined)`);
    } else if (field.repeated) {
      lines.push(`v = ${get}; if (v && v.length && (t = list(v, texts[${i}])) !== undefined)`);
    } else {
      const own = `hasOwn.call(m, ${JSON.stringify(field.name)})`;
      lines.push(`v = ${get}; if (v != null && ${own} && (t = texts[${i}](v)) !== undefined)`);
    }
    lines.push(`  o += (o ? ',' : '') + ${key} + t;`);
  });
  lines.push("return o ? '{' + o + '}' : undefined;");
  // Code generated from the descriptor's field names only.
  const make = new Function('texts', 'hasOwn', 'keys', 'map', 'list', `return function (m) {\n${lines.join('\n')}\n};`);
  return make(texts, Object.prototype.hasOwnProperty, Object.keys, mapText, listText) as Writer;
}

function listText(list: unknown[], text: ValueText): string {
  let out = '';
  for (let i = 0; i < list.length; i++) out += `${i ? ',' : ''}${text(list[i]) ?? '{}'}`;
  return `[${out}]`;
}

function mapText(map: Record<string, unknown>, keys: string[], text: ValueText): string | undefined {
  let out = '';
  for (const key of keys) {
    const inner = text(map[key]);
    if (inner !== undefined) out += `${out ? ',' : ''}${JSON.stringify(key)}:${inner}`;
  }
  return out ? `{${out}}` : undefined;
}

const LongToString = protobuf.util.Long.prototype.toString as (this: unknown) => string;

/** An int64 as toObject's `longs: String` writes it; the common case (0 ≤ n < 2^53) without Long's division loop. */
function longText(value: unknown): string {
  if (typeof value === 'number') return `"${String(value)}"`;
  const { low, high } = value as { low: number; high: number };
  if (high >= 0 && high < 0x200000) return `"${String(high * 4294967296 + (low >>> 0))}"`;
  return JSON.stringify(LongToString.call(value));
}

/** Bytes as toObject's `bytes: String` writes them (standard base64 with padding, as Buffer's). */
function bytesText(value: unknown): string {
  const bytes = value as Uint8Array;
  return `"${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')}"`;
}

/** One value of a field, as toObject converts it and the canonical form writes it. */
function valueText(field: protobuf.Field): ValueText {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Enum) {
    const names = resolved.values as unknown as Record<string, string | undefined>;
    return (value) => JSON.stringify(names[value as number] === undefined ? value : names[value as number]);
  }
  if (resolved instanceof protobuf.Type) return (value) => messageText(resolved, value);
  switch (field.type) {
    case 'int64':
    case 'uint64':
    case 'sint64':
    case 'fixed64':
    case 'sfixed64':
      return longText;
    case 'bytes':
      return bytesText;
    default:
      return (value) => JSON.stringify(value);
  }
}

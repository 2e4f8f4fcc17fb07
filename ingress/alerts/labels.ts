/**
 * Label-set arithmetic as Alertmanager does it, for senders that leave things out: the alert
 * fingerprint (prometheus/common `model.LabelSet.Fingerprint()`, i.e. `labelSetToFingerprint` in
 * model/signature.go) and the printed form of a label set (`model.LabelSet.String()`), which is
 * what Alertmanager's group keys are made of.
 */

/** prometheus/common's SeparatorByte: never valid UTF-8, so names and values cannot run together. */
const SEPARATOR = Uint8Array.of(0xff);
const encoder = new TextEncoder();

/**
 * FNV-1a 64 over bytes, kept in four 16-bit limbs: exact with plain numbers, and faster than
 * BigInt for the thousands of label sets a large notification can carry.
 * hash = (hash ^ byte) * (2^40 + 0x1b3) mod 2^64.
 */
function fnv1a64Hex(bytes: Uint8Array): string {
  let h0 = 0x2325;
  let h1 = 0x8422;
  let h2 = 0x9ce4;
  let h3 = 0xcbf2;
  for (let i = 0; i < bytes.length; i++) {
    h0 ^= bytes[i]!;
    const t0 = h0 * 0x1b3;
    const t1 = h1 * 0x1b3 + (t0 >>> 16);
    const t2 = h2 * 0x1b3 + (h0 << 8) + (t1 >>> 16);
    const t3 = h3 * 0x1b3 + (h1 << 8) + (t2 >>> 16);
    h0 = t0 & 0xffff;
    h1 = t1 & 0xffff;
    h2 = t2 & 0xffff;
    h3 = t3 & 0xffff;
  }
  return [h3, h2, h1, h0].map((limb) => limb.toString(16).padStart(4, '0')).join('');
}

/**
 * Go sorts label names as byte strings. JavaScript's sort compares UTF-16 code units, which orders
 * the same as UTF-8 bytes unless a surrogate pair (a code point beyond U+FFFF) is involved.
 */
function sortedByBytes(names: string[]): string[] {
  if (!names.some((name) => /[\uD800-\uDFFF]/.test(name))) return names.sort();
  return names
    .map((name) => ({ name, bytes: Buffer.from(name, 'utf8') }))
    .sort((a, b) => Buffer.compare(a.bytes, b.bytes))
    .map(({ name }) => name);
}

/** The 16-hex-digit fingerprint Alertmanager gives an alert with these labels: name 0xff value 0xff, sorted. */
export function labelSetFingerprint(labels: Record<string, string>): string {
  const parts: Uint8Array[] = [];
  let size = 0;
  for (const name of sortedByBytes(Object.keys(labels))) {
    for (const text of [name, labels[name]!]) {
      const bytes = encoder.encode(text);
      parts.push(bytes, SEPARATOR);
      size += bytes.length + 1;
    }
  }
  const all = new Uint8Array(size);
  let offset = 0;
  for (const part of parts) {
    all.set(part, offset);
    offset += part.length;
  }
  return fnv1a64Hex(all);
}

/** `{alertname="X", namespace="y"}`: sorted by name, values quoted (JSON quoting equals Go's for printable text). */
export function formatLabelSet(labels: Record<string, string>): string {
  const pairs = sortedByBytes(Object.keys(labels)).map((name) => `${name}=${JSON.stringify(labels[name])}`);
  return `{${pairs.join(', ')}}`;
}

/** The labels every alert shares, as Alertmanager computes `commonLabels`. */
export function commonLabelsOf(labelSets: Record<string, string>[]): Record<string, string> {
  const [first, ...rest] = labelSets;
  if (!first) return {};
  const common: Record<string, string> = {};
  for (const [name, value] of Object.entries(first)) {
    if (rest.every((labels) => labels[name] === value)) common[name] = value;
  }
  return common;
}

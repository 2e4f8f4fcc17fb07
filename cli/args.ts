/** Flags and positionals shared by the commands: each bad value is a UsageError naming the flag. */
import { parseDuration } from '../common/duration';
import { parseTarget } from '../common/ids';
import { SEVERITIES, type Severity, type Target } from '../common/types';
import { UsageError, type Command, type ParsedArgs } from './context';

export const JSON_FLAG = { json: { type: 'boolean' } } as const;

export function noPositionals(command: Command, args: ParsedArgs): void {
  if (args.positionals.length > 0) {
    throw new UsageError(`unexpected argument ${args.positionals[0]}`, command.usage);
  }
}

export function oneId(command: Command, args: ParsedArgs): string {
  const [id, ...extra] = args.positionals;
  if (!id) throw new UsageError(`${command.name} needs an incident id (workflow id or INC-...)`, command.usage);
  if (extra.length > 0) throw new UsageError(`unexpected argument ${extra[0]}`, command.usage);
  return id;
}

export function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.map(String) : typeof value === 'string' ? [value] : [];
}

export function parseTargets(values: string[], usage: string): Target[] {
  const texts = values
    .flatMap((value) => value.split(','))
    .map((text) => text.trim())
    .filter(Boolean);
  if (texts.length === 0) throw new UsageError('--target <namespace>/<deployment> is required', usage);
  const targets: Target[] = [];
  let namespace: string | undefined;
  for (const text of texts) {
    // `shop/checkout,cart` means shop/checkout and shop/cart.
    const target = parseTarget(text.includes('/') || !namespace ? text : `${namespace}/${text}`);
    if (!target) throw new UsageError(`--target must be <namespace>/<deployment>, got ${text}`, usage);
    namespace = target.namespace;
    targets.push(target);
  }
  return targets;
}

export function parseSeverity(value: unknown, usage: string): Severity | undefined {
  if (value === undefined) return undefined;
  const upper = String(value).toUpperCase();
  if (!(SEVERITIES as readonly string[]).includes(upper)) {
    throw new UsageError(`--severity must be one of ${SEVERITIES.join(', ')}, got ${String(value)}`, usage);
  }
  return upper as Severity;
}

export function parseParams(values: string[], usage: string): Record<string, string> {
  const params: Record<string, string> = {};
  for (const value of values) {
    const eq = value.indexOf('=');
    if (eq <= 0) throw new UsageError(`--param must be key=value, got ${value}`, usage);
    params[value.slice(0, eq)] = value.slice(eq + 1);
  }
  return params;
}

export function durationFlag(value: unknown, fallback: string, name: string, usage: string): number {
  const ms = parseDuration(typeof value === 'string' ? value : fallback);
  if (ms === undefined || ms <= 0) throw new UsageError(`--${name} must be a duration like 30s, 5m or 1h`, usage);
  return ms;
}

/**
 * Alert routing rules (the config file's `routes`): label matchers → a runbook, with the target,
 * parameters and severity taken from the alert. Rules are tried in order; the first match wins.
 * Regular expressions are compiled when the file loads, so a typo fails start-up (exit 2) instead
 * of silently never matching at 3 a.m.
 *
 * ```yaml
 * routes:
 *   - name: oom
 *     match: { alertname: '~KubePodOOMKilled|ContainerOOMKilled', env: '!staging' }
 *     runbook: oom-triage
 *     # no `deployment` label: the alert's `pod` is followed to its Deployment
 *     severity: { label: severity, map: { critical: P1, warning: P2 }, default: P2 }
 *     params: { memoryLimit: { annotation: memory_limit } }
 * ```
 */
import { z } from 'zod';
import { RUNBOOK_IDS, SEVERITIES, type RunbookName } from '../common/types';

/**
 * A label matcher as text, Alertmanager's four operators in one string:
 * `value` (equals), `~regex` (=~), `!value` (!=), `!~regex` (!~); a leading `=` makes the rest a
 * literal, for values that start with `~` or `!`. Regexes are fully anchored, as in Alertmanager,
 * and a missing label matches as the empty string.
 */
export type LabelMatcher =
  | { kind: 'equal'; value: string }
  | { kind: 'notEqual'; value: string }
  | { kind: 'regex'; pattern: RegExp }
  | { kind: 'notRegex'; pattern: RegExp };

function compile(source: string, ctx: z.RefinementCtx): RegExp | undefined {
  try {
    return new RegExp(`^(?:${source})$`);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `not a regular expression: ${(err as Error).message}` });
    return undefined;
  }
}

const matcher = z.string().transform((text, ctx): LabelMatcher => {
  if (text.startsWith('=')) return { kind: 'equal', value: text.slice(1) };
  if (text.startsWith('!~')) return { kind: 'notRegex', pattern: compile(text.slice(2), ctx) ?? /$^/ };
  if (text.startsWith('~')) return { kind: 'regex', pattern: compile(text.slice(1), ctx) ?? /$^/ };
  if (text.startsWith('!')) return { kind: 'notEqual', value: text.slice(1) };
  return { kind: 'equal', value: text };
});

/** A regex whose first capture group (or whole match) is the value; anchored like the matchers. */
const extraction = z
  .string()
  .min(1)
  .transform((source, ctx) => compile(source, ctx) ?? /$^/);

/**
 * Where a value comes from: an alert label, an annotation (both optionally narrowed by a regex),
 * or a literal. Labels are looked up on the alert, which carries the group's labels too.
 */
export const valueSourceSchema = z.union([
  z.strictObject({ label: z.string().min(1), regex: extraction.optional() }),
  z.strictObject({ annotation: z.string().min(1), regex: extraction.optional() }),
  z.strictObject({ value: z.string() }),
]);

export type ValueSource = z.infer<typeof valueSourceSchema>;

export const severityMappingSchema = z.union([
  z.enum(SEVERITIES),
  z.strictObject({
    label: z.string().min(1),
    map: z.record(z.string(), z.enum(SEVERITIES)),
    /** When the label is missing or not in the map; absent = the runbook's default severity. */
    default: z.enum(SEVERITIES).optional(),
  }),
]);

export const routeRuleSchema = z.strictObject({
  /** Shown in logs and metrics; defaults to `#<index>`. */
  name: z.string().min(1).optional(),
  match: z
    .record(z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, 'must be a Prometheus label name'), matcher)
    .refine((m) => Object.keys(m).length > 0, 'needs at least one label matcher'),
  runbook: z.enum(RUNBOOK_IDS),
  namespace: valueSourceSchema.default({ label: 'namespace' }),
  deployment: valueSourceSchema.default({ label: 'deployment' }),
  /**
   * When `deployment` yields nothing, the pod this names is followed to the Deployment that
   * controls it (pod → ReplicaSet → Deployment, as kubectl does): standard pod alerts carry no
   * `deployment` label.
   */
  pod: valueSourceSchema.default({ label: 'pod' }),
  severity: severityMappingSchema.optional(),
  /** Runbook parameters; a source that yields nothing leaves the parameter to the runbook's default. */
  params: z.record(z.string(), valueSourceSchema).default({}),
});

/** A configured rule names a built-in runbook; a catalog hint (ingress/alerts/routing.ts) may name a runbook file. */
export type RouteRule = Omit<z.infer<typeof routeRuleSchema>, 'runbook'> & { runbook: RunbookName };

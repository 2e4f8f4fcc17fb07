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
import { SEVERITIES, type RunbookName } from '../common/types';
import { resolvePermissionRunbooks, type PermissionsConfig, type RunbookCatalog } from './access';
import { ConfigError } from './env';

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
  /**
   * A built-in runbook or a runbook file, by id or alias. Runbook files load after the config file,
   * so the name is checked then (resolveConfigRunbooks), still before anything starts.
   */
  runbook: z.string().regex(/^[a-z][a-z0-9-]*$/, 'a runbook id or alias (kebab-case)'),
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

/** A rule names a runbook by id (resolveConfigRunbooks turns an alias into its runbook's id). */
export type RouteRule = Omit<z.infer<typeof routeRuleSchema>, 'runbook'> & { runbook: RunbookName };

/**
 * The rules with each runbook name checked against the catalog — built-in runbooks and the runbook
 * files that loaded — and an alias replaced by its runbook's id (logs, metrics and `permissions`
 * speak ids). Each unknown name is a problem naming the rule's path, for the caller's ConfigError.
 */
export function resolveRoutes(
  routes: RouteRule[],
  catalog: RunbookCatalog,
): { routes: RouteRule[]; problems: string[] } {
  const problems: string[] = [];
  const resolved = routes.map((rule, index) => {
    const found = catalog.find(rule.runbook);
    if (!found) {
      problems.push(
        `  routes.${index}.runbook: unknown runbook "${rule.runbook}"; one of ${catalog.names.join(', ')}` +
          ' (a runbook file that failed validation is skipped)',
      );
      return rule;
    }
    return found.id === rule.runbook ? rule : { ...rule, runbook: found.id };
  });
  return { routes: resolved, problems };
}

/**
 * The config's runbook names — `routes[].runbook` and, when the config has them,
 * `permissions.{start,approve}[].runbooks` — resolved to ids (resolveRoutes,
 * resolvePermissionRunbooks). An unknown name is a ConfigError naming its path (exit 2), as a bad
 * config file is: a rule that can never start its runbook, or a grant that matches none, must not
 * wait for its first alert or person to say so.
 */
export function resolveConfigRunbooks<T extends { routes: RouteRule[]; permissions?: PermissionsConfig }>(
  config: T,
  catalog: RunbookCatalog,
  origin = 'config',
): T {
  const routes = resolveRoutes(config.routes, catalog);
  const access = resolvePermissionRunbooks(config.permissions, catalog);
  const problems = [...routes.problems, ...access.problems];
  if (problems.length > 0) throw new ConfigError(`FIREBREAK_CONFIG: ${origin} is invalid:\n${problems.join('\n')}`);
  return { ...config, routes: routes.routes, ...(access.permissions ? { permissions: access.permissions } : {}) };
}

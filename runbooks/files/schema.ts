/**
 * The runbook file format: a team's own runbook as data (YAML, one per file), validated here with
 * zod and published as docs/runbook.schema.json (`firebreak runbooks schema`). Steps compose the
 * existing activity library only — diagnostics, Kubernetes changes, gates, notify, page, wait,
 * for-each — and branch on named outcomes with CEL. Pure code: the CLI, the loader and tests use
 * the schema; workflow code imports only the types.
 */
import { z } from 'zod';
import type { PinnedDefinition } from '../../common/incident';
import { SEVERITIES } from '../../common/types';
import { DURATION_PATTERN, durationMs, STEP_KIND_NAMES, type StepKind } from '../../domain/runbook-steps';

const duration = z
  .string()
  .regex(DURATION_PATTERN, 'a duration such as 30s, 5m, 1h or 1h30m')
  .refine((text) => text !== '' && durationMs(text) > 0, 'a duration longer than zero')
  .describe('A duration: 30s, 5m, 1h, 1h30m');

const kebab = z.string().regex(/^[a-z][a-z0-9-]*$/, 'kebab-case: lower-case letters, digits and dashes');
/** Step ids are CEL identifiers, so `steps.<id>.outcome` reads naturally. */
const stepId = z
  .string()
  .regex(/^[a-z][A-Za-z0-9_]*$/, 'a step id: a letter, then letters, digits and _ (a CEL identifier)');
const cel = z.string().min(1).describe('A CEL expression (https://github.com/google/cel-spec)');
/** Text with `${…}` CEL expressions in it: `"P0 INCIDENT: ${target.deployment} is down"`. */
const template = z.string().min(1).describe('Text; ${expression} inserts the value of a CEL expression');
const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name');
const quantity = z
  .string()
  .regex(/^\d+(\.\d+)?(m|k|Ki|Mi|Gi|Ti|M|G|T)?$/, 'a Kubernetes quantity such as 512Mi or 250m');

// ---- parameters ---------------------------------------------------------------------------------

export const PARAM_TYPES = ['string', 'integer', 'number', 'boolean', 'url', 'duration', 'list'] as const;
export type ParamType = (typeof PARAM_TYPES)[number];

const paramSpec = z
  .strictObject({
    type: z.enum(PARAM_TYPES),
    description: z.string().optional(),
    default: z.union([z.string(), z.number(), z.boolean(), z.array(z.string())]).optional(),
    /** For integer and number. */
    min: z.number().optional(),
    max: z.number().optional(),
    /** For string: the only values allowed. */
    enum: z.array(z.string()).min(1).optional(),
    required: z.boolean().optional(),
  })
  .describe('A parameter humans (or alerts) supply; typed, with an optional default');

// ---- steps --------------------------------------------------------------------------------------

const common = {
  id: stepId.describe('Unique within the runbook; later steps read its outcome as steps.<id>.outcome'),
  title: z.string().optional().describe('What the timeline says when the step starts'),
  when: cel.optional().describe('CEL (bool): the step runs only when true; otherwise its outcome is "skipped"'),
  next: z
    .union([stepId, z.array(z.strictObject({ if: cel.optional(), goto: stepId })).min(1)])
    .optional()
    .describe('Where to go next: a step id, or branches tried in order ({if: CEL, goto: id}); default the next step'),
};

/** Which deployment a change acts on: a CEL expression giving `{namespace, deployment}` or a deployment name. */
const on = cel.optional().describe('CEL: the deployment to act on (default: the loop item, else the target)');
const mode = z
  .enum(['permanent', 'mitigation'], {
    error: (issue) =>
      issue.input === undefined
        ? 'required: permanent, or mitigation (restored when the incident ends)'
        : 'permanent or mitigation',
  })
  .describe('mitigation = temporary: the kernel restores the previous value when the incident ends');

const permanentOnly = z.literal('permanent').optional().describe('A restart or undo cannot be restored');

/** Collector component names: a list, or a CEL list expression such as params.receivers; empty = all. */
const componentNames = z.union([z.array(z.string().min(1)), cel]).optional();

/** Each step kind: its key and the schema of its value. */
export const STEP_KINDS = {
  // diagnostics
  health: z
    .strictObject({ url: template.optional(), expectStatus: z.number().int().min(100).max(599).optional() })
    .describe('HTTP health check (default url: params.healthUrl). Outcomes: healthy, unhealthy, unreachable, failed'),
  pods: z
    .strictObject({ on })
    .describe("The deployment's pods: phase, restarts, last termination. Outcomes: ok, crashing, none, failed"),
  events: z
    .strictObject({ limit: z.number().int().min(1).max(200).optional(), namespace: template.optional() })
    .describe('The latest events of the namespace. Outcomes: ok, warnings, failed'),
  previousLogs: z
    .strictObject({
      on,
      lines: z.number().int().min(1).max(1000).optional(),
      max: z.number().int().min(1).max(10).optional(),
    })
    .describe('Logs of crashed containers (kubectl logs --previous). Outcomes: found, none, failed'),
  promql: z
    .strictObject({
      query: template,
      above: z.number().optional().describe('Outcome "above" when any series exceeds this'),
      below: z.number().optional().describe('Outcome "below" when any series is under this'),
      label: z.string().optional(),
    })
    .describe('An instant PromQL query, optionally against a threshold. Outcomes: above, below, ok, no-data, failed'),
  memoryTrend: z
    .strictObject({
      query: template.optional(),
      window: duration.optional(),
      thresholdBytesPerSecond: z.number().positive().optional(),
    })
    .describe('Least-squares memory slope (the leak verdict). Outcomes: leak, steady, no-data, failed'),
  traceSettings: z
    .strictObject({
      on,
      container: z.string().optional(),
      minSamplerRatio: z.number().min(0).max(1).optional().describe('Root-span sampling below this is a finding (0.5)'),
    })
    .describe(
      "Seed 004's trace-loss checks 1-4 on the deployment's pod template: sampler, propagators, batch exporter, preStop and grace period. Outcomes: ok, findings, failed",
    ),
  collectorDrops: z
    .strictObject({
      selector: template.optional().describe('Label matchers of the collector series, e.g. job="otelcol"'),
      receivers: componentNames.describe('Receiver names (otlp/front), or CEL (list); all by default'),
      processors: componentNames,
      exporters: componentNames,
      window: duration.optional().describe('Look-back, 5m by default'),
    })
    .describe(
      "Seed 004's check 5: the collector's refused, dropped, send-failed and enqueue-failed spans and its sending queues. Outcomes: ok, findings, no-data, failed",
    ),
  report: z
    .strictObject({ title: z.string().optional() })
    .describe(
      'The diagnostic report so far: "N/M passed, W warnings, F failures". Outcomes: passed, warnings, failures',
    ),
  // Kubernetes changes
  restart: z.strictObject({ on, mode: permanentOnly }).describe('kubectl rollout restart. Outcome: applied'),
  undo: z
    .strictObject({ on, mode: permanentOnly, toRevision: z.number().int().min(0).optional() })
    .describe('kubectl rollout undo. Outcome: applied'),
  scale: z
    .strictObject({
      on,
      mode,
      replicas: z
        .union([z.number().int().min(0).max(1000), cel])
        .optional()
        .describe('The count, or CEL (int)'),
      add: z.number().int().min(-100).max(100).optional().describe('Replicas added to the current count'),
    })
    .refine((scale) => (scale.replicas === undefined) !== (scale.add === undefined), 'one of replicas or add')
    .describe('Set the replica count. Outcomes: applied, already-applied'),
  setEnv: z
    .strictObject({ on, mode, container: z.string().optional(), env: z.record(envName, template.nullable()) })
    .describe('Set (or with null unset) environment variables. Outcomes: applied, already-applied'),
  setResources: z
    .strictObject({
      on,
      mode,
      container: z.string().optional(),
      limits: z.strictObject({ memory: quantity.optional(), cpu: quantity.optional() }).optional(),
      requests: z.strictObject({ memory: quantity.optional(), cpu: quantity.optional() }).optional(),
    })
    .describe('Set container limits/requests. Outcomes: applied, already-applied'),
  waitForRollout: z
    .strictObject({ on })
    .describe("Wait for the rollout with the policy's deadline. Outcomes: complete, stalled"),
  // people
  gate: z
    .strictObject({
      name: kebab.optional().describe('The gate name for firebreak approve --gate (default: the step id, _ as -)'),
      prompt: template,
      fourEyes: z.boolean().optional(),
      quorum: z.number().int().min(1).max(10).optional().describe('Approvals from different people needed'),
      choices: z.array(z.string().min(1)).min(2).optional(),
      deadline: duration.optional(),
      required: z
        .boolean()
        .optional()
        .describe('Default true: a rejection or timeout stops the runbook. false: branch on the outcome'),
    })
    .describe('Ask humans. Outcomes: approved, rejected, timed_out, withdrawn (choice in steps.<id>.choice)'),
  notify: template.describe('Post to the incident thread. Outcome: sent'),
  page: template.describe('Page the next escalation tier. Outcome: sent'),
  wait: z
    .union([
      duration,
      z.strictObject({ duration }),
      z.strictObject({
        until: cel.describe('CEL (bool) re-evaluated after each probe'),
        probe: stepId.optional().describe('A diagnostic step (by id) run again before each evaluation'),
        every: duration.optional(),
        timeout: duration,
      }),
    ])
    .describe('Wait for a duration, or until a condition holds. Outcomes: done, met, timed-out'),
  forEach: z
    .strictObject({
      over: z.string().min(1).describe('targets, or a CEL list expression (e.g. params.services)'),
      as: z
        .string()
        .regex(/^[a-z][A-Za-z0-9_]*$/)
        .optional()
        .describe('The loop variable (default item)'),
      steps: z.array(z.unknown()).min(1),
    })
    .describe('Run the nested steps once per item. Outcome: done'),
  end: z
    .strictObject({
      status: z.enum(['mitigated', 'failed', 'done']),
      message: template.optional(),
    })
    .describe('Stop here: mitigated (recovered), failed (escalates and pages), or done'),
} as const;

// The kinds, their outcomes and result fields are the interpreter's too: domain/runbook-steps.ts.
export * from '../../domain/runbook-steps';
const _kindsMatch: Record<StepKind, true> = Object.fromEntries(Object.keys(STEP_KINDS).map((k) => [k, true])) as Record<
  keyof typeof STEP_KINDS,
  true
>;
void _kindsMatch;

interface StepCommon {
  id: string;
  title?: string;
  when?: string;
  next?: string | { if?: string; goto: string }[];
}

type SimpleKind = Exclude<StepKind, 'forEach'>;
type SimpleStep = { [K in SimpleKind]: StepCommon & { [P in K]: z.infer<(typeof STEP_KINDS)[P]> } }[SimpleKind];

export interface ForEachStep extends StepCommon {
  forEach: { over: string; as?: string; steps: StepDefinition[] };
}

export type StepDefinition = SimpleStep | ForEachStep;

/** One schema per kind, for the published JSON Schema (editors complete a step by its key). */
function stepSchema(kind: StepKind): z.ZodType {
  const value = kind === 'forEach' ? forEachSchema() : STEP_KINDS[kind];
  return z.strictObject({ ...common, [kind]: value });
}

let anyStep: z.ZodType | undefined;
function forEachSchema(): z.ZodType {
  return z.strictObject({
    over: STEP_KINDS.forEach.shape.over,
    as: STEP_KINDS.forEach.shape.as,
    steps: z.array(z.lazy(() => anyStepSchema())).min(1),
  });
}

/** The union of all step shapes; validation itself goes kind by kind (loader.ts) for precise errors. */
export function anyStepSchema(): z.ZodType {
  anyStep ??= z.union(STEP_KIND_NAMES.map(stepSchema)).meta({ id: 'Step' });
  return anyStep;
}

export const STEP_COMMON = z.strictObject(common);

/** Everything but the steps, which the loader checks one by one. */
export const RUNBOOK_HEADER = z.strictObject({
  $schema: z.string().optional(),
  id: kebab.describe('The runbook id: firebreak run <id>, /runbook <id>, access rules, search attribute'),
  title: z.string().min(1),
  summary: z.string().optional(),
  aliases: z.array(kebab).optional().describe('Other names for firebreak run and Slack'),
  defaultSeverity: z.enum(SEVERITIES).optional().describe('Default P2'),
  alertHints: z
    .strictObject({
      alertnames: z.array(z.string()).describe('Regular expressions matched against the alertname label'),
      labels: z.record(z.string(), z.string()).optional(),
    })
    .optional(),
  params: z.record(z.string().regex(/^[a-z][A-Za-z0-9_]*$/, 'a parameter name (camelCase)'), paramSpec).optional(),
  targets: z
    .strictObject({
      min: z.number().int().min(1).optional(),
      max: z.number().int().min(1).max(50).optional(),
    })
    .optional()
    .describe('How many deployments the runbook acts on (default exactly one)'),
  steps: z.array(z.unknown()).min(1),
});

export const RUNBOOK_FILE = RUNBOOK_HEADER.extend({ steps: z.array(z.lazy(() => anyStepSchema())).min(1) });

export type ParamSpec = z.infer<typeof paramSpec>;
export type RunbookFileHeader = z.infer<typeof RUNBOOK_HEADER>;

/** A validated runbook file: what travels, pinned, in the incident's start input. */
export interface FileRunbook extends Omit<RunbookFileHeader, 'steps' | '$schema'> {
  steps: StepDefinition[];
}

/** The JSON Schema editors use (docs/runbook.schema.json). */
export function runbookJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(RUNBOOK_FILE, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' });
  return {
    ...schema,
    $id: 'https://firebreak.dev/runbook.schema.json',
    title: 'Firebreak runbook file',
    description: 'A declarative Firebreak runbook (docs/runbooks.md)',
  };
}

/** A validated file as the catalog keeps it: where it came from and the sha256 of its bytes. */
export interface FileRunbookSource {
  file: string;
  hash: string;
  definition: FileRunbook;
}

/** What an incident started from a runbook file carries in its start input: pinned for its whole life. */
export type PinnedFileRunbook = PinnedDefinition<FileRunbook>;

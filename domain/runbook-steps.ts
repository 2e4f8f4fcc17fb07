/**
 * The runtime side of runbook files, shared by the validator (runbooks/files) and the interpreter
 * (workflows/declarative): the outcomes and result fields of each step kind, durations, `${…}`
 * templates. Pure and sandbox-safe; the format itself is runbooks/files/schema.ts.
 */

type FieldType = 'bool' | 'int' | 'double' | 'string';

interface StepKindSpec {
  /** Diagnostics read, changes write the cluster; the rest are people, time, loops and ends. */
  group?: 'diagnostic' | 'change';
  /** The named outcomes the kind can produce (validate checks comparisons against these). */
  outcomes: readonly string[];
  /** The result fields it adds beside `outcome` (all present from the start, zero until the step runs). */
  fields: Record<string, FieldType>;
}

/**
 * Every step kind, in the order the schema lists them, with its outcomes and result fields: the
 * one table the lists below are read from.
 */
const STEP_KINDS = {
  health: {
    group: 'diagnostic',
    outcomes: ['healthy', 'unhealthy', 'unreachable', 'failed'],
    fields: { healthy: 'bool', status: 'int', verdict: 'string' },
  },
  pods: {
    group: 'diagnostic',
    outcomes: ['ok', 'crashing', 'none', 'failed'],
    fields: { count: 'int', restarts: 'int', crashed: 'int' },
  },
  events: { group: 'diagnostic', outcomes: ['ok', 'warnings', 'failed'], fields: { count: 'int', warnings: 'int' } },
  previousLogs: { group: 'diagnostic', outcomes: ['found', 'none', 'failed'], fields: { count: 'int' } },
  promql: {
    group: 'diagnostic',
    outcomes: ['above', 'below', 'ok', 'no-data', 'failed'],
    fields: { value: 'double', series: 'int' },
  },
  memoryTrend: {
    group: 'diagnostic',
    outcomes: ['leak', 'steady', 'no-data', 'failed'],
    fields: { bytesPerSecond: 'double' },
  },
  traceSettings: {
    group: 'diagnostic',
    outcomes: ['ok', 'findings', 'failed'],
    /** The bsp* fields: the value a temporary setEnv would set for that variable, '' when it is fine. */
    fields: {
      found: 'int',
      verdict: 'string',
      bspMaxQueueSize: 'string',
      bspScheduleDelay: 'string',
      bspExportTimeout: 'string',
    },
  },
  collectorDrops: {
    group: 'diagnostic',
    outcomes: ['ok', 'findings', 'no-data', 'failed'],
    fields: { found: 'int', lostSpans: 'int', acceptedSpans: 'int', verdict: 'string' },
  },
  report: {
    group: 'diagnostic',
    outcomes: ['passed', 'warnings', 'failures'],
    fields: { passed: 'int', warnings: 'int', failures: 'int', total: 'int' },
  },
  restart: { group: 'change', outcomes: ['applied'], fields: {} },
  undo: { group: 'change', outcomes: ['applied'], fields: {} },
  scale: {
    group: 'change',
    outcomes: ['applied', 'already-applied'],
    fields: { replicas: 'int', previousReplicas: 'int' },
  },
  setEnv: { group: 'change', outcomes: ['applied', 'already-applied'], fields: {} },
  setResources: { group: 'change', outcomes: ['applied', 'already-applied'], fields: {} },
  waitForRollout: { outcomes: ['complete', 'stalled'], fields: { complete: 'bool', message: 'string' } },
  gate: {
    outcomes: ['approved', 'rejected', 'timed_out', 'withdrawn'],
    fields: { choice: 'string', decidedBy: 'string' },
  },
  notify: { outcomes: ['sent'], fields: {} },
  page: { outcomes: ['sent'], fields: {} },
  wait: { outcomes: ['done', 'met', 'timed-out'], fields: {} },
  forEach: { outcomes: ['done'], fields: { count: 'int' } },
  end: { outcomes: [], fields: {} },
} as const satisfies Record<string, StepKindSpec>;

export type StepKind = keyof typeof STEP_KINDS;

const kindEntries = Object.entries(STEP_KINDS) as [StepKind, StepKindSpec][];

/** The step kinds, in the order the schema lists them. */
export const STEP_KIND_NAMES = Object.keys(STEP_KINDS) as [StepKind, ...StepKind[]];

export const DIAGNOSTIC_KINDS: readonly StepKind[] = kindEntries
  .filter(([, spec]) => spec.group === 'diagnostic')
  .map(([kind]) => kind);
export const CHANGE_KINDS: readonly StepKind[] = kindEntries
  .filter(([, spec]) => spec.group === 'change')
  .map(([kind]) => kind);

/** `30s`, `5m`, `1h`, `1h30m`: what a deadline, a wait or a window is written as. */
export const DURATION_PATTERN = /^(\d+h)?(\d+m)?(\d+s)?$/;
export function durationMs(text: string): number {
  const match = DURATION_PATTERN.exec(text);
  if (!match) return 0;
  const [, h, m, s] = match;
  return ((parseInt(h ?? '0') * 60 + parseInt(m ?? '0')) * 60 + parseInt(s ?? '0')) * 1000;
}

/** The named outcomes each step kind can produce (validate checks comparisons against these). */
export const STEP_OUTCOMES = Object.fromEntries(kindEntries.map(([kind, spec]) => [kind, spec.outcomes])) as Record<
  StepKind,
  readonly string[]
>;

/** The result fields each kind adds beside `outcome` (all present from the start, zero until the step runs). */
export const STEP_FIELDS = Object.fromEntries(kindEntries.map(([kind, spec]) => [kind, spec.fields])) as Record<
  StepKind,
  Record<string, FieldType>
>;

/** Every step's outcome before it runs, and when its `when` was false. */
export const PENDING = 'pending';
export const SKIPPED = 'skipped';

/** The CEL variables every expression sees (besides `steps`, `params` and loop variables). */
export const INCIDENT_FIELDS = { id: 'string', severity: 'string', title: 'string', rehearsal: 'bool' } as const;

/** The kind of a step: its one key that names a kind. */
export function stepKind(step: object): StepKind {
  return STEP_KIND_NAMES.find((kind) => kind in step)!;
}

/** `${…}` spans of a template: CEL expressions whose values are inserted as text. */
export function templateExpressions(text: string): { expression: string; offset: number }[] {
  const found: { expression: string; offset: number }[] = [];
  for (const match of text.matchAll(/\$\{([^}]*)\}/g)) found.push({ expression: match[1]!, offset: match.index + 2 });
  return found;
}

/** The gate name of a gate step: its own name, else its id with _ as -. */
export function gateName(step: { id: string; gate: { name?: string } }): string {
  return step.gate.name ?? step.id.replace(/_/g, '-').toLowerCase();
}

/** Every step, nested for-each steps included, in file order. */
export function walkSteps<S extends object>(steps: readonly S[], visit: (step: S) => void): void {
  for (const step of steps) {
    visit(step);
    if ('forEach' in step) walkSteps((step.forEach as { steps: S[] }).steps, visit);
  }
}

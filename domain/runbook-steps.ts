/**
 * The runtime side of runbook files, shared by the validator (runbooks/files) and the interpreter
 * (workflows/declarative): the outcomes and result fields of each step kind, durations, `${…}`
 * templates. Pure and sandbox-safe; the format itself is runbooks/files/schema.ts.
 */

/** The step kinds, in the order the schema lists them. */
export const STEP_KIND_NAMES = [
  'health',
  'pods',
  'events',
  'previousLogs',
  'promql',
  'memoryTrend',
  'traceSettings',
  'collectorDrops',
  'report',
  'restart',
  'undo',
  'scale',
  'setEnv',
  'setResources',
  'waitForRollout',
  'gate',
  'notify',
  'page',
  'wait',
  'forEach',
  'end',
] as const;

export type StepKind = (typeof STEP_KIND_NAMES)[number];

export const DIAGNOSTIC_KINDS: readonly StepKind[] = [
  'health',
  'pods',
  'events',
  'previousLogs',
  'promql',
  'memoryTrend',
  'traceSettings',
  'collectorDrops',
  'report',
];
export const CHANGE_KINDS: readonly StepKind[] = ['restart', 'undo', 'scale', 'setEnv', 'setResources'];

/** `30s`, `5m`, `1h`, `1h30m`: what a deadline, a wait or a window is written as. */
export const DURATION_PATTERN = /^(\d+h)?(\d+m)?(\d+s)?$/;
export function durationMs(text: string): number {
  const match = DURATION_PATTERN.exec(text);
  if (!match) return 0;
  const [, h, m, s] = match;
  return ((parseInt(h ?? '0') * 60 + parseInt(m ?? '0')) * 60 + parseInt(s ?? '0')) * 1000;
}

/** The named outcomes each step kind can produce (validate checks comparisons against these). */
export const STEP_OUTCOMES: Record<StepKind, readonly string[]> = {
  health: ['healthy', 'unhealthy', 'unreachable', 'failed'],
  pods: ['ok', 'crashing', 'none', 'failed'],
  events: ['ok', 'warnings', 'failed'],
  previousLogs: ['found', 'none', 'failed'],
  promql: ['above', 'below', 'ok', 'no-data', 'failed'],
  memoryTrend: ['leak', 'steady', 'no-data', 'failed'],
  traceSettings: ['ok', 'findings', 'failed'],
  collectorDrops: ['ok', 'findings', 'no-data', 'failed'],
  report: ['passed', 'warnings', 'failures'],
  restart: ['applied'],
  undo: ['applied'],
  scale: ['applied', 'already-applied'],
  setEnv: ['applied', 'already-applied'],
  setResources: ['applied', 'already-applied'],
  waitForRollout: ['complete', 'stalled'],
  gate: ['approved', 'rejected', 'timed_out', 'withdrawn'],
  notify: ['sent'],
  page: ['sent'],
  wait: ['done', 'met', 'timed-out'],
  forEach: ['done'],
  end: [],
};

/** The result fields each kind adds beside `outcome` (all present from the start, zero until the step runs). */
export const STEP_FIELDS: Record<StepKind, Record<string, 'bool' | 'int' | 'double' | 'string'>> = {
  health: { healthy: 'bool', status: 'int', verdict: 'string' },
  pods: { count: 'int', restarts: 'int', crashed: 'int' },
  events: { count: 'int', warnings: 'int' },
  previousLogs: { count: 'int' },
  promql: { value: 'double', series: 'int' },
  memoryTrend: { bytesPerSecond: 'double' },
  /** The bsp* fields: the value a temporary setEnv would set for that variable, '' when it is fine. */
  traceSettings: {
    found: 'int',
    verdict: 'string',
    bspMaxQueueSize: 'string',
    bspScheduleDelay: 'string',
    bspExportTimeout: 'string',
  },
  collectorDrops: { found: 'int', lostSpans: 'int', acceptedSpans: 'int', verdict: 'string' },
  report: { passed: 'int', warnings: 'int', failures: 'int', total: 'int' },
  restart: {},
  undo: {},
  scale: { replicas: 'int', previousReplicas: 'int' },
  setEnv: {},
  setResources: {},
  waitForRollout: { complete: 'bool', message: 'string' },
  gate: { choice: 'string', decidedBy: 'string' },
  notify: {},
  page: {},
  wait: {},
  forEach: { count: 'int' },
  end: {},
};

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

/**
 * Validation of one runbook file's text: YAML, the schema (kind by kind, so an error names the
 * step), then what a schema cannot say — unique ids, where `next` goes, cycles, unreachable steps,
 * every CEL expression parsed and type-checked against the runbook's own steps and parameters.
 * Every problem carries the file and line it is on. Never throws for bad input: the fuzz test
 * (test/runbook-files.test.ts) holds it to that.
 */
import { isMap, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import { checkCel, CelCheckError, T, typeName, type CelT } from './cel-check';
import {
  DIAGNOSTIC_KINDS,
  INCIDENT_FIELDS,
  PENDING,
  RUNBOOK_HEADER,
  SKIPPED,
  STEP_COMMON,
  STEP_FIELDS,
  STEP_KIND_NAMES,
  STEP_KINDS,
  STEP_OUTCOMES,
  gateName,
  templateExpressions,
  type FileRunbook,
  type ParamSpec,
  type StepDefinition,
  type StepKind,
} from './schema';

export interface RunbookIssue {
  file: string;
  line: number;
  column: number;
  message: string;
}

export interface ParsedRunbookFile {
  /** Present when the file has no issues. */
  runbook?: FileRunbook;
  issues: RunbookIssue[];
}

type Path = (string | number)[];

export function formatIssue(issue: RunbookIssue): string {
  return `${issue.file}:${issue.line}:${issue.column}: ${issue.message}`;
}

export function parseRunbookText(text: string, file: string): ParsedRunbookFile {
  try {
    return new FileValidator(text, file).run();
  } catch (err) {
    // A bug here must not take start-up down: the file is reported and skipped like any other.
    return { issues: [{ file, line: 1, column: 1, message: `internal validation error: ${(err as Error).message}` }] };
  }
}

class FileValidator {
  private readonly lines = new LineCounter();
  private readonly issues: RunbookIssue[] = [];
  private doc!: Document;

  constructor(
    private readonly text: string,
    private readonly file: string,
  ) {}

  run(): ParsedRunbookFile {
    this.doc = parseDocument(this.text, { lineCounter: this.lines, prettyErrors: false, uniqueKeys: true });
    for (const error of this.doc.errors) {
      const pos = this.lines.linePos(error.pos[0]);
      this.issues.push({
        file: this.file,
        line: pos.line,
        column: pos.col,
        message: `YAML: ${error.message.split('\n')[0]}`,
      });
    }
    if (this.issues.length > 0) return { issues: this.issues };
    let data: unknown;
    try {
      data = this.doc.toJS({ maxAliasCount: 50 });
    } catch (err) {
      this.issue([], `YAML: ${(err as Error).message.split('\n')[0]}`);
      return { issues: this.issues };
    }
    const header = RUNBOOK_HEADER.safeParse(data);
    if (!header.success) {
      this.zodIssues(header.error, []);
      return { issues: this.issues };
    }
    const steps = this.steps(header.data.steps, ['steps']);
    if (this.issues.length > 0 || !steps) return { issues: this.issues };
    const { $schema, ...rest } = header.data;
    void $schema;
    const runbook: FileRunbook = { ...rest, steps };
    new Semantics(runbook, this).check();
    this.issues.sort((a, b) => a.line - b.line || a.column - b.column);
    return this.issues.length > 0 ? { issues: this.issues } : { runbook, issues: [] };
  }

  /** Validates a list of steps kind by kind; undefined when any is wrong (issues recorded). */
  private steps(raw: unknown[], path: Path): StepDefinition[] | undefined {
    const out: StepDefinition[] = [];
    let ok = true;
    raw.forEach((step, index) => {
      const at = [...path, index];
      if (typeof step !== 'object' || step === null || Array.isArray(step)) {
        this.issue(at, 'a step is a mapping with an id and one step kind');
        ok = false;
        return;
      }
      const keys = Object.keys(step);
      const kinds = keys.filter((key) => (STEP_KIND_NAMES as readonly string[]).includes(key));
      const unknown = keys.filter(
        (key) => !(STEP_KIND_NAMES as readonly string[]).includes(key) && !(key in STEP_COMMON.shape),
      );
      if (kinds.length !== 1) {
        const name = (step as { id?: unknown }).id;
        const which = typeof name === 'string' ? `step ${name}` : 'a step';
        const message =
          kinds.length > 1
            ? `${which} has ${kinds.length} kinds (${kinds.join(', ')}); one per step`
            : unknown.length > 0
              ? `${which}: unknown step kind ${unknown.map((key) => JSON.stringify(key)).join(', ')} (one of ${STEP_KIND_NAMES.join(', ')})`
              : `${which} has no kind (one of ${STEP_KIND_NAMES.join(', ')})`;
        this.issue(
          unknown.length > 0 && kinds.length === 0 ? [...at, unknown[0]!] : at,
          message,
          kinds.length === 0 && unknown.length > 0,
        );
        ok = false;
        return;
      }
      const kind = kinds[0] as StepKind;
      const schema = STEP_COMMON.extend({ [kind]: STEP_KINDS[kind] });
      const parsed = schema.safeParse(step);
      if (!parsed.success) {
        this.zodIssues(parsed.error, at);
        ok = false;
        return;
      }
      const value = parsed.data as unknown as StepDefinition;
      if (kind === 'forEach') {
        const loop = (value as { forEach: { over: string; as?: string; steps: unknown[] } }).forEach;
        const inner = this.steps(loop.steps, [...at, 'forEach', 'steps']);
        if (!inner) {
          ok = false;
          return;
        }
        out.push({ ...value, forEach: { ...loop, steps: inner } } as StepDefinition);
        return;
      }
      out.push(value);
    });
    return ok ? out : undefined;
  }

  private zodIssues(error: z.ZodError, base: Path): void {
    for (const issue of error.issues) {
      const path = [...base, ...(issue.path as Path)];
      const where = path.length > 0 ? `${path.join('.')}: ` : '';
      this.issue(path, `${where}${issue.message}`, issue.code === 'unrecognized_keys');
    }
  }

  /** Records an issue at the line of the node at `path` (or its nearest existing parent). */
  issue(path: Path, message: string, atKey = false, offsetInScalar = 0): void {
    let offset = 0;
    for (let depth = path.length; depth >= 0; depth -= 1) {
      const sub = path.slice(0, depth);
      const node = depth === 0 ? this.doc.contents : this.doc.getIn(sub, true);
      const keyNode = atKey && depth === path.length ? this.keyNode(sub) : undefined;
      const range = (keyNode ?? node) as { range?: [number, number, number] } | undefined;
      if (range?.range) {
        offset = range.range[0] + (depth === path.length ? scalarOffset(this.text, range.range[0], offsetInScalar) : 0);
        break;
      }
    }
    const pos = this.lines.linePos(offset);
    this.issues.push({ file: this.file, line: pos.line, column: pos.col, message });
  }

  private keyNode(path: Path): unknown {
    const parent = path.length > 1 ? this.doc.getIn(path.slice(0, -1), true) : this.doc.contents;
    if (!isMap(parent)) return undefined;
    const last = path[path.length - 1];
    const pair = parent.items.find((item) => (item.key as { value?: unknown } | null)?.value === last);
    return pair?.key ?? undefined;
  }

  get hasSequence(): boolean {
    return isSeq(this.doc.get('steps', true));
  }
}

/** Where an offset inside a scalar's value lies in the file: past an opening quote if any. */
function scalarOffset(text: string, start: number, inner: number): number {
  if (inner === 0) return 0;
  const quote = text[start] === '"' || text[start] === "'" ? 1 : 0;
  return quote + inner;
}

// ---- what a schema cannot say --------------------------------------------------------------------

interface Located {
  step: StepDefinition;
  path: Path;
  /** Loop variables in scope, with their types. */
  loopVars: Record<string, CelT>;
  list: StepDefinition[];
  index: number;
}

class Semantics {
  private readonly all: Located[] = [];
  private readonly byId = new Map<string, Located>();

  constructor(
    private readonly runbook: FileRunbook,
    private readonly report: FileValidator,
  ) {}

  check(): void {
    this.params();
    this.alertHints();
    this.collect(this.runbook.steps, ['steps'], {});
    if (!this.report.hasSequence) return;
    const gates = new Map<string, string>();
    for (const located of this.all) {
      const { step, path } = located;
      if (this.byId.get(step.id) !== located) {
        this.report.issue([...path, 'id'], `duplicate step id ${step.id}`);
      }
      if ('gate' in step) {
        const name = gateName(step);
        if (name === 'restore') this.report.issue([...path, 'gate'], 'the gate name restore is the kernel’s own');
        if (gates.has(name))
          this.report.issue([...path, 'gate'], `gate name ${name} is also step ${gates.get(name)}'s`);
        gates.set(name, step.id);
      }
      if ('wait' in step && typeof step.wait === 'object' && 'probe' in step.wait && step.wait.probe) {
        const probe = this.byId.get(step.wait.probe);
        const kind = probe && STEP_KIND_NAMES.find((k) => k in probe.step);
        if (!probe || !kind || !DIAGNOSTIC_KINDS.includes(kind) || kind === 'report') {
          this.report.issue([...path, 'wait', 'probe'], `wait.probe ${step.wait.probe} is not a diagnostic step`);
        }
      }
    }
    this.flow(this.runbook.steps, ['steps']);
    for (const located of this.all) this.expressions(located);
  }

  private params(): void {
    for (const [name, spec] of Object.entries(this.runbook.params ?? {})) {
      const at = ['params', name];
      if (spec.default === undefined) continue;
      const problem = paramDefaultProblem(spec);
      if (problem) this.report.issue([...at, 'default'], `params.${name}.default ${problem}`);
    }
  }

  private alertHints(): void {
    (this.runbook.alertHints?.alertnames ?? []).forEach((pattern, index) => {
      try {
        new RegExp(pattern);
      } catch {
        this.report.issue(['alertHints', 'alertnames', index], `${pattern} is not a regular expression`);
      }
    });
  }

  private collect(list: StepDefinition[], path: Path, loopVars: Record<string, CelT>): void {
    list.forEach((step, index) => {
      const at = [...path, index];
      const located: Located = { step, path: at, loopVars, list, index };
      this.all.push(located);
      if (!this.byId.has(step.id)) this.byId.set(step.id, located);
      if ('forEach' in step) {
        const name = step.forEach.as ?? 'item';
        const itemType = this.loopItemType(step, at, loopVars);
        this.collect(step.forEach.steps, [...at, 'forEach', 'steps'], { ...loopVars, [name]: itemType });
      }
    });
  }

  private loopItemType(
    step: Extract<StepDefinition, { forEach: unknown }>,
    at: Path,
    loopVars: Record<string, CelT>,
  ): CelT {
    const over = step.forEach.over;
    if (over === 'targets') return TARGET;
    try {
      const type = checkCel(over, this.scope(loopVars));
      if (type.k === 'list') return type.elem;
      if (type.k !== 'dyn')
        this.report.issue([...at, 'forEach', 'over'], `forEach.over must be a list, not ${typeName(type)}`);
    } catch (err) {
      if (!(err instanceof CelCheckError)) throw err;
      // reported by expressions()
    }
    return T.dyn;
  }

  /** Successors, cycles and reachability, per list (a `next` never leaves its own list). */
  private flow(list: StepDefinition[], path: Path): void {
    const ids = new Map(list.map((step, index) => [step.id, index]));
    const successors: number[][] = list.map((step, index) => {
      const at = [...path, index];
      const out: number[] = [];
      const goTo = (id: string, where: Path): void => {
        const target = ids.get(id);
        if (target === undefined) {
          const elsewhere = this.byId.has(id) ? ' (a next cannot leave its own step list)' : '';
          this.report.issue(where, `next: no step ${id} here${elsewhere}`);
          return;
        }
        out.push(target);
      };
      let fallsThrough = !('end' in step);
      if (typeof step.next === 'string') {
        goTo(step.next, [...at, 'next']);
        fallsThrough = false;
      } else if (step.next) {
        step.next.forEach((branch, b) => goTo(branch.goto, [...at, 'next', b, 'goto']));
        if (step.next.some((branch) => branch.if === undefined)) fallsThrough = false;
      }
      if (fallsThrough && index + 1 < list.length) out.push(index + 1);
      return out;
    });
    // Cycles: a runbook is a DAG (waits poll; nothing loops unbounded).
    const state = new Array<number>(list.length).fill(0);
    const stack: number[] = [];
    const visit = (node: number): boolean => {
      state[node] = 1;
      stack.push(node);
      for (const next of successors[node]!) {
        if (state[next] === 1) {
          const cycle = [...stack.slice(stack.indexOf(next)), next].map((i) => list[i]!.id);
          this.report.issue([...path, node, 'next'], `cycle: ${cycle.join(' → ')}`, true);
          return true;
        }
        if (state[next] === 0 && visit(next)) return true;
      }
      stack.pop();
      state[node] = 2;
      return false;
    };
    for (let i = 0; i < list.length; i += 1) if (state[i] === 0 && visit(i)) break;
    // Reachability from the first step.
    const reached = new Set<number>([0]);
    const queue = [0];
    while (queue.length > 0) {
      for (const next of successors[queue.shift()!]!) {
        if (!reached.has(next)) {
          reached.add(next);
          queue.push(next);
        }
      }
    }
    list.forEach((step, index) => {
      if (!reached.has(index)) this.report.issue([...path, index, 'id'], `step ${step.id} is unreachable`);
      if ('forEach' in step) this.flow(step.forEach.steps, [...path, index, 'forEach', 'steps']);
    });
  }

  private scope(loopVars: Record<string, CelT>): Record<string, CelT> {
    const steps: Record<string, CelT> = {};
    for (const { step } of this.all) {
      const kind = STEP_KIND_NAMES.find((k) => k in step)!;
      const fields: Record<string, CelT> = {
        outcome: { k: 'string', outcomes: { of: `steps.${step.id}.outcome`, values: outcomesOf(kind) } },
      };
      for (const [name, type] of Object.entries(STEP_FIELDS[kind])) fields[name] = { k: type } as CelT;
      steps[step.id] = T.object(`steps.${step.id}`, fields);
    }
    const params: Record<string, CelT> = {};
    for (const [name, spec] of Object.entries(this.runbook.params ?? {})) params[name] = paramType(spec);
    return {
      steps: T.object('steps', steps),
      params: T.object('params', params),
      incident: T.object(
        'incident',
        Object.fromEntries(Object.entries(INCIDENT_FIELDS).map(([k, v]) => [k, { k: v } as CelT])),
      ),
      target: TARGET,
      targets: T.list(TARGET),
      ...loopVars,
    };
  }

  private expressions(located: Located): void {
    const { step, path, loopVars } = located;
    const scope = this.scope(loopVars);
    const expect = (source: string, at: Path, want: 'bool' | 'list' | 'int' | 'target' | 'any', inner = 0): void => {
      try {
        const type = checkCel(source, scope);
        const fits =
          want === 'any' ||
          type.k === 'dyn' ||
          (want === 'bool' && type.k === 'bool') ||
          (want === 'list' && type.k === 'list') ||
          (want === 'int' && type.k === 'int') ||
          (want === 'target' &&
            (type.k === 'string' || (type.k === 'object' && type.name === 'target') || type.k === 'map'));
        if (!fits) {
          const wanted = want === 'target' ? 'a deployment name or a target' : want;
          this.report.issue(at, `CEL type error: ${source} is ${typeName(type)}, ${wanted} expected`, false, inner);
        }
      } catch (err) {
        if (!(err instanceof CelCheckError)) throw err;
        this.report.issue(at, `CEL error in ${JSON.stringify(source)}: ${err.message}`, false, inner + err.offset);
      }
    };
    const templ = (text: string | null | undefined, at: Path): void => {
      if (!text) return;
      for (const { expression, offset } of templateExpressions(text)) expect(expression, at, 'any', offset);
    };
    if (step.when) expect(step.when, [...path, 'when'], 'bool');
    if (Array.isArray(step.next)) {
      step.next.forEach((branch, b) => branch.if && expect(branch.if, [...path, 'next', b, 'if'], 'bool'));
    }
    const value = (step as unknown as Record<string, unknown>)[STEP_KIND_NAMES.find((k) => k in step)!];
    if (value && typeof value === 'object' && 'on' in value && typeof value.on === 'string') {
      expect(value.on, [...path, STEP_KIND_NAMES.find((k) => k in step)!, 'on'], 'target');
    }
    if ('health' in step) templ(step.health.url, [...path, 'health', 'url']);
    if ('events' in step) templ(step.events.namespace, [...path, 'events', 'namespace']);
    if ('promql' in step) templ(step.promql.query, [...path, 'promql', 'query']);
    if ('memoryTrend' in step) templ(step.memoryTrend.query, [...path, 'memoryTrend', 'query']);
    if ('collectorDrops' in step) {
      templ(step.collectorDrops.selector, [...path, 'collectorDrops', 'selector']);
      for (const kind of ['receivers', 'processors', 'exporters'] as const) {
        const names = step.collectorDrops[kind];
        if (typeof names === 'string') expect(names, [...path, 'collectorDrops', kind], 'list');
      }
    }
    if ('gate' in step) templ(step.gate.prompt, [...path, 'gate', 'prompt']);
    if ('notify' in step) templ(step.notify, [...path, 'notify']);
    if ('page' in step) templ(step.page, [...path, 'page']);
    if ('end' in step) templ(step.end.message, [...path, 'end', 'message']);
    if ('setEnv' in step) {
      for (const [name, text] of Object.entries(step.setEnv.env)) templ(text, [...path, 'setEnv', 'env', name]);
    }
    if ('scale' in step && typeof step.scale.replicas === 'string') {
      expect(step.scale.replicas, [...path, 'scale', 'replicas'], 'int');
    }
    if ('wait' in step && typeof step.wait === 'object' && 'until' in step.wait) {
      expect(step.wait.until, [...path, 'wait', 'until'], 'bool');
    }
    if ('forEach' in step && step.forEach.over !== 'targets') {
      expect(step.forEach.over, [...path, 'forEach', 'over'], 'list');
    }
  }
}

const TARGET = T.object('target', { namespace: T.string, deployment: T.string });

function outcomesOf(kind: StepKind): string[] {
  return [...STEP_OUTCOMES[kind], PENDING, SKIPPED];
}

export function paramType(spec: ParamSpec): CelT {
  switch (spec.type) {
    case 'integer':
      return T.int;
    case 'number':
      return T.double;
    case 'boolean':
      return T.bool;
    case 'list':
      return T.list(T.string);
    default:
      return T.string;
  }
}

/** Why a parameter's default does not fit its declaration, or undefined. */
export function paramDefaultProblem(spec: ParamSpec): string | undefined {
  const value = spec.default;
  const want =
    { integer: 'number', number: 'number', boolean: 'boolean', list: 'object' }[spec.type as string] ?? 'string';
  if (typeof value !== want || (spec.type === 'list') !== Array.isArray(value)) return `is not a ${spec.type}`;
  if (spec.type === 'integer' && !Number.isInteger(value)) return 'is not an integer';
  if (
    typeof value === 'number' &&
    ((spec.min !== undefined && value < spec.min) || (spec.max !== undefined && value > spec.max))
  ) {
    return 'is out of range';
  }
  if (typeof value === 'string' && spec.enum && !spec.enum.includes(value))
    return `is not one of ${spec.enum.join(', ')}`;
  return undefined;
}

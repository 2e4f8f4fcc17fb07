/**
 * What a schema cannot say about a runbook file that parsed: unique step ids and gate names, where
 * `next` goes, cycles, unreachable steps, parameter defaults, alert-hint regexes, and every CEL
 * expression parsed and type-checked against the runbook's own steps and parameters. Problems go
 * to the validator's report (validate.ts), which places them at their file line.
 */
import { checkCel, CelCheckError, T, typeName, type CelT } from './cel-check';
import {
  DIAGNOSTIC_KINDS,
  INCIDENT_FIELDS,
  PENDING,
  SKIPPED,
  STEP_FIELDS,
  STEP_KIND_NAMES,
  STEP_OUTCOMES,
  gateName,
  templateExpressions,
  type FileRunbook,
  type ParamSpec,
  type StepDefinition,
  type StepKind,
} from './schema';

/** A node's path in the file's YAML document: keys and sequence indexes. */
export type Path = (string | number)[];

/** Where the problems go: the validator records each at the line of the node at `path`. */
export interface IssueReport {
  issue(path: Path, message: string, atKey?: boolean, offsetInScalar?: number): void;
  /** Whether `steps` is a sequence in the document (else the steps' paths point nowhere). */
  readonly hasSequence: boolean;
}

interface Located {
  step: StepDefinition;
  path: Path;
  /** Loop variables in scope, with their types. */
  loopVars: Record<string, CelT>;
  list: StepDefinition[];
  index: number;
}

export class Semantics {
  private readonly all: Located[] = [];
  private readonly byId = new Map<string, Located>();

  constructor(
    private readonly runbook: FileRunbook,
    private readonly report: IssueReport,
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

/**
 * The interpreter of runbook files: walks the pinned definition's steps on the same incident
 * kernel as the built-in runbooks (runIncident: holds, escalation, response plan, cancel,
 * rehearsal, restoration of mitigations, postmortem). Each step calls the existing activity
 * library through the kernel's proxies; its outcome and result fields are what later `when`,
 * `next` and `${…}` expressions read. Deterministic: the definition comes from the start input,
 * never from a file, and CEL is evaluated in the sandbox.
 */
import { ApplicationFailure, sleep } from '@temporalio/workflow';
import { ErrorType } from '../../common/errors';
import { formatTarget } from '../../common/ids';
import type { Target } from '../../common/types';
import {
  DIAGNOSTIC_KINDS,
  INCIDENT_FIELDS,
  PENDING,
  SKIPPED,
  STEP_FIELDS,
  durationMs,
  gateName,
  stepKind,
  walkSteps,
  type StepKind,
} from '../../domain/runbook-steps';
import type { ForEachStep, PinnedFileRunbook, StepDefinition } from '../../runbooks/files/schema';
import type { Incident } from '../incident';
import { failureMessage } from '../incident/failures';
import { evaluate, evaluateBool, renderTemplate, type Bindings } from './cel';
import { change } from './changes';
import { probe } from './probes';
import type { Params, StepContext, StepResult } from './step-context';

/** How a step list ended: ran to its end, or an `end` step stopped the runbook. */
type Flow = 'continue' | 'stopped';

const DEFAULT_WAIT_EVERY_MS = 30_000;

export class RunbookInterpreter {
  private readonly state = new Map<string, { outcome: string; fields: Record<string, unknown> }>();
  private readonly kinds = new Map<string, StepKind>();
  /** Outcomes of the diagnostic steps so far, for the `report` step. */
  private readonly findings: { step: string; kind: StepKind; outcome: string; verdict: string }[] = [];
  /** What the probes and changes (probes.ts, changes.ts) use of this interpreter. */
  private readonly context: StepContext;

  constructor(
    private readonly incident: Incident<Params>,
    private readonly pinned: PinnedFileRunbook,
  ) {
    walkSteps(pinned.definition.steps, (step) => {
      const kind = stepKind(step);
      this.kinds.set(step.id, kind);
      this.state.set(step.id, { outcome: PENDING, fields: zeroFields(kind) });
    });
    this.context = {
      incident,
      text: (template, loop) => this.text(template, loop),
      target: (on, loop) => this.target(on, loop),
      names: (names, loop) => this.names(names, loop),
      allowedNamespace: (namespace) => this.allowedNamespace(namespace),
      bindings: (loop) => this.bindings(loop),
      report: (title) => this.report(title),
    };
  }

  async run(): Promise<void> {
    const { hash, file, definition } = this.pinned;
    this.incident.note('step', `Runbook file ${file} (${definition.id}), sha256 ${hash}`, {
      runbookFile: file,
      definitionHash: hash,
    });
    await this.runList(definition.steps, {});
  }

  private async runList(steps: StepDefinition[], loop: Bindings): Promise<Flow> {
    let index = 0;
    while (index < steps.length) {
      const step = steps[index]!;
      const kind = this.kinds.get(step.id)!;
      if (step.when !== undefined && !this.bool(step.when, loop, step)) {
        this.set(step.id, { outcome: SKIPPED });
      } else {
        if (kind === 'end' && 'end' in step) {
          await this.end(step.end, loop);
          return 'stopped';
        }
        const result = await this.execute(step, kind, loop);
        if (result === 'stopped') return 'stopped';
        this.set(step.id, result);
      }
      index = this.next(step, steps, index, loop);
    }
    return 'continue';
  }

  private next(step: StepDefinition, steps: StepDefinition[], index: number, loop: Bindings): number {
    if (step.next === undefined) return index + 1;
    const goTo = (id: string) => steps.findIndex((candidate) => candidate.id === id);
    if (typeof step.next === 'string') return goTo(step.next);
    for (const branch of step.next) {
      if (branch.if === undefined || this.bool(branch.if, loop, step)) return goTo(branch.goto);
    }
    return index + 1;
  }

  private async execute(step: StepDefinition, kind: StepKind, loop: Bindings): Promise<StepResult | 'stopped'> {
    const incident = this.incident;
    const title = step.title ?? describeStep(step, kind);
    if (kind === 'notify') {
      // The message is the step: one timeline entry, posted to the thread.
      incident.step(step.id, this.text((step as { notify: string }).notify, loop));
      return { outcome: 'sent' };
    }
    incident.step(step.id, title);
    switch (kind) {
      case 'forEach':
        return this.forEach(step as ForEachStep, loop);
      case 'page': {
        await incident.page(this.text((step as { page: string }).page, loop));
        return { outcome: 'sent' };
      }
      case 'gate':
        return this.gate(step as Extract<StepDefinition, { gate: unknown }>, loop);
      case 'wait':
        return this.wait(step as Extract<StepDefinition, { wait: unknown }>, loop);
      default: {
        if (DIAGNOSTIC_KINDS.includes(kind)) return this.diagnose(step, kind, loop);
        return change(this.context, step, kind, loop);
      }
    }
  }

  // ---- diagnostics ------------------------------------------------------------------------------

  private async diagnose(step: StepDefinition, kind: StepKind, loop: Bindings): Promise<StepResult> {
    const result = await probe(this.context, step, kind, loop);
    if (kind !== 'report') {
      const verdict = typeof result.fields?.verdict === 'string' ? result.fields.verdict : result.outcome;
      this.findings.push({ step: step.id, kind, outcome: result.outcome, verdict });
    }
    return result;
  }

  /** 001's DiagnosticReport: "N/M passed, W warnings, F failures" over the diagnostics so far. */
  private report(title = 'Diagnostic report'): StepResult {
    let passed = 0;
    let warnings = 0;
    let failures = 0;
    const lines = this.findings.map((finding) => {
      const verdict = judge(finding.kind, finding.outcome);
      if (verdict === 'pass') passed += 1;
      else if (verdict === 'warn') warnings += 1;
      else failures += 1;
      return `${verdict === 'pass' ? 'PASS' : verdict === 'warn' ? 'WARN' : 'FAIL'} ${finding.step}: ${finding.verdict}`;
    });
    const total = this.findings.length;
    const summary = `${title}: ${passed}/${total} passed, ${warnings} warnings, ${failures} failures`;
    this.incident.note('diagnostic', `${summary}\n${lines.join('\n')}`, { passed, warnings, failures, total });
    const outcome = failures > 0 ? 'failures' : warnings > 0 ? 'warnings' : 'passed';
    return { outcome, fields: { passed, warnings, failures, total } };
  }

  /**
   * The deployment a step acts on: `on` (a deployment name in the target's namespace, or a
   * `{namespace, deployment}`), else the loop item when it is a target, else the incident's target.
   * Only the incident's own targets: those are the deployments it holds (one remediation each).
   */
  private target(on: string | undefined, loop: Bindings): Target {
    let value: unknown;
    if (on !== undefined) value = evaluate(on, this.bindings(loop));
    else value = Object.values(loop).find(isTarget) ?? this.incident.target;
    const target: Target | undefined =
      typeof value === 'string'
        ? { namespace: this.incident.target.namespace, deployment: value }
        : isTarget(value)
          ? { namespace: value.namespace, deployment: value.deployment }
          : undefined;
    const known =
      target &&
      this.incident.record.targets.some((t) => t.namespace === target.namespace && t.deployment === target.deployment);
    if (!target || !known) {
      throw ApplicationFailure.nonRetryable(
        `${JSON.stringify(value)} is not a target of this incident (${this.incident.record.targets.map(formatTarget).join(', ')})`,
        ErrorType.INVALID_INPUT,
      );
    }
    return target;
  }

  /** Collector component names: as listed, or a CEL list expression's strings. */
  private names(names: string[] | string | undefined, loop: Bindings): string[] {
    if (names === undefined) return [];
    const list = typeof names === 'string' ? toList(evaluate(names, this.bindings(loop)), names) : names;
    return list.map(String);
  }

  private allowedNamespace(namespace: string): void {
    if (!this.incident.record.targets.some((t) => t.namespace === namespace)) {
      throw ApplicationFailure.nonRetryable(
        `namespace ${namespace} is not one of this incident's`,
        ErrorType.INVALID_INPUT,
      );
    }
  }

  // ---- people, time, loops ----------------------------------------------------------------------

  private async gate(step: Extract<StepDefinition, { gate: unknown }>, loop: Bindings): Promise<StepResult> {
    const { gate } = step;
    const spec = {
      name: gateName(step),
      prompt: this.text(gate.prompt, loop),
      fourEyes: gate.fourEyes ?? false,
      ...(gate.choices ? { choices: gate.choices } : {}),
      ...(gate.quorum ? { quorum: gate.quorum } : {}),
      ...(gate.deadline ? { deadlineMs: durationMs(gate.deadline) } : {}),
    };
    const state =
      gate.required === false
        ? await this.incident.askApproval(spec)
        : await this.incident.requireApproval(spec, `Gate ${spec.name} was not approved`);
    const withdrawn = state.comment?.startsWith('withdrawn') ?? false;
    return {
      outcome: withdrawn ? 'withdrawn' : state.status,
      fields: { choice: state.choice ?? '', decidedBy: state.decidedBy?.name ?? state.decidedBy?.id ?? '' },
    };
  }

  private async wait(step: Extract<StepDefinition, { wait: unknown }>, loop: Bindings): Promise<StepResult> {
    const wait = step.wait;
    if (typeof wait === 'string' || 'duration' in wait) {
      const ms = durationMs(typeof wait === 'string' ? wait : wait.duration);
      if (this.incident.skipsInRehearsal(`waiting ${ms / 1000} s`)) return { outcome: 'done' };
      await sleep(ms);
      return { outcome: 'done' };
    }
    const deadline = Date.now() + durationMs(wait.timeout);
    const every = wait.every ? durationMs(wait.every) : DEFAULT_WAIT_EVERY_MS;
    for (;;) {
      if (wait.probe) {
        const probe = this.find(wait.probe);
        if (probe) this.set(probe.id, await this.diagnose(probe, this.kinds.get(probe.id)!, loop));
      }
      if (this.bool(wait.until, loop, step)) return { outcome: 'met' };
      if (Date.now() + every > deadline || this.incident.skipsInRehearsal('waiting for a condition')) {
        return { outcome: 'timed-out' };
      }
      await sleep(every);
    }
  }

  private async forEach(step: ForEachStep, loop: Bindings): Promise<StepResult | 'stopped'> {
    const { over, as = 'item', steps } = step.forEach;
    const items: unknown[] =
      over === 'targets' ? this.incident.record.targets : toList(evaluate(over, this.bindings(loop)), over);
    let count = 0;
    for (const item of items) {
      // Each pass starts with the nested steps pending again.
      walkSteps(steps, (inner) =>
        this.state.set(inner.id, { outcome: PENDING, fields: zeroFields(this.kinds.get(inner.id)!) }),
      );
      if ((await this.runList(steps, { ...loop, [as]: item })) === 'stopped') return 'stopped';
      count += 1;
    }
    return { outcome: 'done', fields: { count } };
  }

  private async end(end: { status: 'mitigated' | 'failed' | 'done'; message?: string }, loop: Bindings): Promise<void> {
    const message = end.message
      ? this.text(end.message, loop)
      : `Runbook ${this.pinned.definition.id} ended: ${end.status}`;
    if (end.status === 'mitigated') this.incident.mitigated(message);
    else if (end.status === 'failed') await this.incident.remediationFailed(message);
    else this.incident.note('step', message);
  }

  // ---- CEL --------------------------------------------------------------------------------------

  private bindings(loop: Bindings): Bindings {
    const steps: Record<string, unknown> = {};
    for (const [id, { outcome, fields }] of this.state) {
      const kind = this.kinds.get(id)!;
      const typed: Record<string, unknown> = { outcome };
      for (const [name, type] of Object.entries(STEP_FIELDS[kind])) typed[name] = celValue(type, fields[name]);
      steps[id] = typed;
    }
    const params: Record<string, unknown> = {};
    for (const [name, spec] of Object.entries(this.pinned.definition.params ?? {})) {
      const value = this.incident.params[name];
      params[name] =
        spec.type === 'integer'
          ? BigInt(Math.trunc(Number(value ?? 0)))
          : spec.type === 'number'
            ? Number(value ?? 0)
            : spec.type === 'boolean'
              ? value === true
              : spec.type === 'list'
                ? ((value as string[] | undefined) ?? [])
                : String(value ?? '');
    }
    const record = this.incident.record;
    const incident: Record<keyof typeof INCIDENT_FIELDS, unknown> = {
      id: this.incident.id,
      severity: record.severity,
      title: record.title,
      rehearsal: this.incident.rehearsal,
    };
    return { steps, params, incident, target: this.incident.target, targets: record.targets, ...loop };
  }

  private bool(source: string, loop: Bindings, step: StepDefinition): boolean {
    try {
      return evaluateBool(source, this.bindings(loop));
    } catch (err) {
      throw ApplicationFailure.nonRetryable(`step ${step.id}: ${failureMessage(err)}`, ErrorType.INVALID_INPUT);
    }
  }

  private text(template: string, loop: Bindings): string {
    return renderTemplate(template, this.bindings(loop));
  }

  private set(id: string, result: StepResult): void {
    const fields = { ...zeroFields(this.kinds.get(id)!), ...(result.fields ?? {}) };
    this.state.set(id, { outcome: result.outcome, fields });
  }

  private find(id: string): StepDefinition | undefined {
    let found: StepDefinition | undefined;
    walkSteps(this.pinned.definition.steps, (step) => {
      if (step.id === id) found ??= step;
    });
    return found;
  }
}

/** PASS/WARN/FAIL of a diagnostic outcome: bad findings fail, questions not answered warn. */
function judge(kind: StepKind, outcome: string): 'pass' | 'warn' | 'fail' {
  if (outcome === 'failed' || outcome === 'no-data') return 'warn';
  const bad: Partial<Record<StepKind, string[]>> = {
    health: ['unhealthy', 'unreachable'],
    pods: ['crashing', 'none'],
    events: ['warnings'],
    previousLogs: ['found'],
    promql: ['above', 'below'],
    memoryTrend: ['leak'],
    traceSettings: ['findings'],
    collectorDrops: ['findings'],
  };
  return bad[kind]?.includes(outcome) ? 'fail' : 'pass';
}

function zeroFields(kind: StepKind): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const [name, type] of Object.entries(STEP_FIELDS[kind])) {
    fields[name] = type === 'bool' ? false : type === 'string' ? '' : 0;
  }
  return fields;
}

function celValue(type: 'bool' | 'int' | 'double' | 'string', value: unknown): unknown {
  if (type === 'int') return BigInt(Math.trunc(Number(value ?? 0)));
  if (type === 'double') return Number(value ?? 0);
  if (type === 'bool') return value === true;
  return String(value ?? '');
}

function isTarget(value: unknown): value is Target {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Target).namespace === 'string' &&
    typeof (value as Target).deployment === 'string'
  );
}

function toList(value: unknown, source: string): unknown[] {
  if (!Array.isArray(value)) {
    throw ApplicationFailure.nonRetryable(`forEach.over ${source} is not a list`, ErrorType.INVALID_INPUT);
  }
  return value;
}

function describeStep(step: StepDefinition, kind: StepKind): string {
  const words: Partial<Record<StepKind, string>> = {
    health: 'Health check',
    pods: 'Pods',
    events: 'Recent events',
    previousLogs: 'Logs of crashed containers',
    promql: 'PromQL query',
    memoryTrend: 'Memory trend',
    traceSettings: 'Trace export settings',
    collectorDrops: 'Collector drop counters',
    report: 'Diagnostic report',
    restart: 'Rollout restart',
    undo: 'Rollout undo',
    scale: 'Scale',
    setEnv: 'Set environment',
    setResources: 'Set resources',
    waitForRollout: 'Waiting for the rollout',
    gate: 'Approval gate',
    notify: 'Notify',
    page: 'Page',
    wait: 'Wait',
    forEach: 'For each',
  };
  return `${words[kind] ?? kind} (${step.id})`;
}

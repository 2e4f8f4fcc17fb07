/**
 * What a step module needs of the interpreter (workflows/declarative/interpreter.ts): the incident,
 * and the template, target and CEL helpers bound to the runbook's state. The probes and the
 * changes are their own modules; the interpreter walks the steps and owns the state.
 */
import type { Target } from '../../common/types';
import type { Incident } from '../incident';
import type { Bindings } from './cel';

export type Params = Record<string, unknown>;

export interface StepResult {
  outcome: string;
  fields?: Record<string, unknown>;
}

export interface StepContext {
  incident: Incident<Params>;
  /** A `${…}` template rendered with the runbook's bindings. */
  text(template: string, loop: Bindings): string;
  /** The deployment a step acts on: one of the incident's own targets. */
  target(on: string | undefined, loop: Bindings): Target;
  /** Collector component names: as listed, or a CEL list expression's strings. */
  names(names: string[] | string | undefined, loop: Bindings): string[];
  allowedNamespace(namespace: string): void;
  bindings(loop: Bindings): Bindings;
  /** The `report` step over the diagnostics so far. */
  report(title?: string): StepResult;
}

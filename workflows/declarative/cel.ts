/**
 * CEL inside the workflow sandbox (@bufbuild/cel: pure TypeScript, deterministic, no I/O). Values
 * go in as CEL sees them (integers as bigint, so `steps.pods.restarts > 3` compares int with int)
 * and come back as plain JSON values. Plans are cached per expression text: planning is pure.
 */
import type * as Cel from '@bufbuild/cel';
import type { CelValue } from '@bufbuild/cel';

/**
 * Required on first use, not imported: the worker evaluates the bundle's modules again for every
 * workflow it creates (reused V8 context), and @bufbuild/cel boots its protobuf descriptors as it
 * loads — about a quarter of a new incident's workflow-creation time for runbooks that never
 * evaluate CEL. Deterministic either way: the same module, loaded at the same point of the code.
 */
let celModule: typeof Cel | undefined;
let celEnvironment: ReturnType<typeof Cel.celEnv> | undefined;
function cel(): typeof Cel {
  return (celModule ??= loadCel());
}

/** The workflow bundle has webpack's require (kept as a literal call it resolves); plain Node ESM makes one. */
function loadCel(): typeof Cel {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded lazily on purpose (above)
  if (typeof require === 'function') return require('@bufbuild/cel') as typeof Cel;
  const { createRequire } = process.getBuiltinModule('node:module');
  return createRequire(import.meta.url)('@bufbuild/cel') as typeof Cel;
}

const plans = new Map<string, ReturnType<typeof Cel.plan>>();

export class CelEvaluationError extends Error {}

export type Bindings = Record<string, unknown>;

/** Evaluates an expression; throws CelEvaluationError with CEL's message when it fails. */
export function evaluate(source: string, bindings: Bindings): unknown {
  let planned = plans.get(source);
  if (!planned) {
    try {
      const { celEnv, parse, plan } = cel();
      planned = plan((celEnvironment ??= celEnv()), parse(source));
    } catch (err) {
      throw new CelEvaluationError(`${source}: ${(err as Error).message}`);
    }
    plans.set(source, planned);
  }
  const result = planned(bindings as never);
  if (cel().isCelError(result)) throw new CelEvaluationError(`${source}: ${result.message}`);
  return toJson(result);
}

export function evaluateBool(source: string, bindings: Bindings): boolean {
  const value = evaluate(source, bindings);
  if (typeof value !== 'boolean') throw new CelEvaluationError(`${source}: is ${typeof value}, not bool`);
  return value;
}

/** `${…}` replaced by the values of their expressions (objects as JSON). */
export function renderTemplate(text: string, bindings: Bindings): string {
  return text.replace(/\$\{([^}]*)\}/g, (_, source: string) => {
    const value = evaluate(source, bindings);
    return typeof value === 'string' ? value : JSON.stringify(value);
  });
}

function toJson(value: CelValue): unknown {
  const { isCelList, isCelMap, isCelUint } = cel();
  if (typeof value === 'bigint') return Number(value);
  if (isCelUint(value)) return Number(value.value);
  if (isCelList(value)) return [...value].map(toJson);
  if (isCelMap(value)) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of value) out[String(isCelUint(key) ? key.value : key)] = toJson(item);
    return out;
  }
  if (value instanceof Uint8Array) return [...value];
  if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) return value;
  return String(value);
}

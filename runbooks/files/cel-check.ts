/**
 * A type checker for the CEL expressions of runbook files. `@bufbuild/cel` parses and evaluates
 * (conformance-tested against the CEL spec) but its checker is not public yet, so this walks its
 * parsed AST against the runbook's own environment: `steps.<id>.outcome` and the kind's result
 * fields, `params.<name>` with the declared types, `incident`, `target`, `targets` and loop items.
 * It reports what cel-go's checker would (undeclared references, unknown fields, mismatched
 * operands, a non-bool condition) plus an outcome compared with a name its step never produces.
 */
import { parse } from '@bufbuild/cel';
import type { Expr } from '@bufbuild/cel-spec/cel/expr/syntax_pb.js';

export type CelT =
  | { k: 'bool' | 'int' | 'uint' | 'double' | 'bytes' | 'null' | 'dyn' | 'duration' | 'timestamp' | 'type' }
  | { k: 'string'; outcomes?: { of: string; values: readonly string[] } }
  | { k: 'list'; elem: CelT }
  | { k: 'map'; key: CelT; value: CelT }
  | { k: 'object'; name: string; fields: Record<string, CelT> };

export const T = {
  bool: { k: 'bool' } as CelT,
  int: { k: 'int' } as CelT,
  double: { k: 'double' } as CelT,
  string: { k: 'string' } as CelT,
  dyn: { k: 'dyn' } as CelT,
  list: (elem: CelT): CelT => ({ k: 'list', elem }),
  object: (name: string, fields: Record<string, CelT>): CelT => ({ k: 'object', name, fields }),
};

export class CelCheckError extends Error {
  constructor(
    message: string,
    /** Offset in the expression text. */
    readonly offset: number,
  ) {
    super(message);
  }
}

export function typeName(t: CelT): string {
  switch (t.k) {
    case 'list':
      return `list(${typeName(t.elem)})`;
    case 'map':
      return `map(${typeName(t.key)}, ${typeName(t.value)})`;
    case 'object':
      return t.name;
    default:
      return t.k;
  }
}

/** Parses and checks; returns the expression's type or throws CelCheckError (parse errors included). */
export function checkCel(source: string, scope: Record<string, CelT>): CelT {
  let parsed;
  try {
    parsed = parse(source);
  } catch (err) {
    const message = (err as Error).message.replace(/^<input>:/, '');
    const column = /^1:(\d+):/.exec(message);
    throw new CelCheckError(`CEL syntax error: ${message}`, column ? Number(column[1]) - 1 : 0);
  }
  const positions = parsed.sourceInfo?.positions ?? {};
  return new Checker(positions).check(parsed.expr, scope);
}

/** Type denotations: `type(x) == int`. */
const TYPE_NAMES = new Set(['bool', 'int', 'uint', 'double', 'string', 'bytes', 'list', 'map', 'type', 'null_type']);
const NUMERIC = new Set(['int', 'uint', 'double']);
const ORDERED = new Set(['bool', 'int', 'uint', 'double', 'string', 'bytes', 'duration', 'timestamp']);

class Checker {
  constructor(private readonly positions: Record<string, number>) {}

  private fail(expr: Expr, message: string): never {
    throw new CelCheckError(message, this.positions[String(expr.id)] ?? 0);
  }

  check(expr: Expr, scope: Record<string, CelT>): CelT {
    const kind = expr.exprKind;
    switch (kind.case) {
      case 'constExpr': {
        const c = kind.value.constantKind.case;
        if (c === 'boolValue') return T.bool;
        if (c === 'int64Value') return T.int;
        if (c === 'uint64Value') return { k: 'uint' };
        if (c === 'doubleValue') return T.double;
        if (c === 'stringValue') return T.string;
        if (c === 'bytesValue') return { k: 'bytes' };
        return { k: 'null' };
      }
      case 'identExpr': {
        const found = scope[kind.value.name];
        if (!found && TYPE_NAMES.has(kind.value.name)) return { k: 'type' };
        if (!found) {
          const known = Object.keys(scope).filter((name) => !name.startsWith('@'));
          this.fail(expr, `undeclared reference to '${kind.value.name}' (known: ${known.join(', ')})`);
        }
        return found;
      }
      case 'selectExpr': {
        const operand = this.check(kind.value.operand!, scope);
        const type = this.field(expr, operand, kind.value.field);
        return kind.value.testOnly ? T.bool : type;
      }
      case 'listExpr': {
        const elems = kind.value.elements.map((e) => this.check(e, scope));
        return T.list(join(elems));
      }
      case 'structExpr': {
        const keys: CelT[] = [];
        const values: CelT[] = [];
        for (const entry of kind.value.entries) {
          if (entry.keyKind.case === 'mapKey') keys.push(this.check(entry.keyKind.value, scope));
          if (entry.value) values.push(this.check(entry.value, scope));
        }
        if (kind.value.messageName) return T.dyn;
        return { k: 'map', key: join(keys), value: join(values) };
      }
      case 'comprehensionExpr': {
        const c = kind.value;
        const range = this.check(c.iterRange!, scope);
        const iterType =
          range.k === 'list' ? range.elem : range.k === 'map' ? range.key : range.k === 'dyn' ? T.dyn : undefined;
        if (!iterType) this.fail(c.iterRange!, `cannot iterate over ${typeName(range)}`);
        const accu = this.check(c.accuInit!, scope);
        const inner: Record<string, CelT> = { ...scope, [c.iterVar]: iterType, [c.accuVar]: accu };
        if (c.iterVar2) inner[c.iterVar2] = range.k === 'map' ? range.value : T.dyn;
        this.check(c.loopCondition!, inner);
        const step = this.check(c.loopStep!, inner);
        return this.check(c.result!, { ...inner, [c.accuVar]: accu.k === 'list' && step.k === 'list' ? step : accu });
      }
      case 'callExpr':
        return this.call(expr, scope);
      default:
        this.fail(expr, 'empty expression');
    }
  }

  private field(expr: Expr, operand: CelT, name: string): CelT {
    if (operand.k === 'object') {
      const type = operand.fields[name];
      if (!type) {
        this.fail(
          expr,
          `${operand.name} has no field '${name}' (has: ${Object.keys(operand.fields).join(', ') || 'none'})`,
        );
      }
      return type;
    }
    if (operand.k === 'map') return operand.value;
    if (operand.k === 'dyn') return T.dyn;
    this.fail(expr, `cannot select field '${name}' of ${typeName(operand)}`);
  }

  private call(expr: Expr, scope: Record<string, CelT>): CelT {
    if (expr.exprKind.case !== 'callExpr') throw new Error('not a call');
    const call = expr.exprKind.value;
    const args = call.args.map((a) => this.check(a, scope));
    const target = call.target ? this.check(call.target, scope) : undefined;
    const fn = call.function;
    const overload = (): never =>
      this.fail(
        expr,
        `found no matching overload for '${fn}' applied to '(${[...(target ? [target] : []), ...args].map(typeName).join(', ')})'`,
      );
    const [a, b, c] = args;
    switch (fn) {
      case '_&&_':
      case '_||_':
        if (!args.every(isBoolish)) overload();
        return T.bool;
      case '!_':
        if (!isBoolish(a!)) overload();
        return T.bool;
      case '_?_:_':
        if (!isBoolish(a!)) this.fail(expr, `the condition of ?: must be bool, not ${typeName(a!)}`);
        if (!assignable(b!, c!))
          this.fail(expr, `?: branches have different types: ${typeName(b!)} and ${typeName(c!)}`);
        return b!.k === 'dyn' || b!.k === 'null' ? c! : b!;
      case '_==_':
      case '_!=_':
        if (!assignable(a!, b!)) overload();
        this.outcomeLiteral(call.args[0]!, a!, call.args[1]!);
        this.outcomeLiteral(call.args[1]!, b!, call.args[0]!);
        return T.bool;
      case '_<_':
      case '_<=_':
      case '_>_':
      case '_>=_':
        if (a!.k === 'dyn' || b!.k === 'dyn') return T.bool;
        if (NUMERIC.has(a!.k) && NUMERIC.has(b!.k)) return T.bool;
        if (a!.k !== b!.k || !ORDERED.has(a!.k)) overload();
        return T.bool;
      case '_+_':
        if (a!.k === 'dyn') return b!;
        if (b!.k === 'dyn') return a!;
        if (a!.k === 'list' && b!.k === 'list') return T.list(join([a!.elem, b!.elem]));
        if (a!.k !== b!.k || !['int', 'uint', 'double', 'string', 'bytes', 'duration'].includes(a!.k)) overload();
        return a!.k === 'string' ? T.string : a!;
      case '_-_':
      case '_*_':
      case '_/_':
      case '_%_':
        if (a!.k === 'dyn') return b!;
        if (b!.k === 'dyn') return a!;
        if (a!.k !== b!.k || !NUMERIC.has(a!.k) || (fn === '_%_' && a!.k === 'double')) overload();
        return a!;
      case '-_':
        if (a!.k !== 'dyn' && a!.k !== 'int' && a!.k !== 'double') overload();
        return a!;
      case '_[_]':
        if (a!.k === 'list') {
          if (!['int', 'uint', 'dyn'].includes(b!.k)) overload();
          return a!.elem;
        }
        if (a!.k === 'map') return a!.value;
        if (a!.k === 'object') {
          const key = call.args[1]!.exprKind;
          if (key.case === 'constExpr' && key.value.constantKind.case === 'stringValue') {
            return this.field(expr, a!, key.value.constantKind.value);
          }
          return T.dyn;
        }
        if (a!.k === 'dyn') return T.dyn;
        return overload();
      case '@in':
        if (b!.k === 'list') {
          if (!assignable(a!, b!.elem)) overload();
          this.outcomeLiteral(call.args[0]!, a!, undefined, call.args[1]);
          return T.bool;
        }
        if (b!.k === 'map' || b!.k === 'dyn' || b!.k === 'object') return T.bool;
        return overload();
      case 'size': {
        const of = target ?? a!;
        if (!['string', 'bytes', 'list', 'map', 'dyn', 'object'].includes(of.k)) overload();
        return T.int;
      }
      case 'contains':
      case 'startsWith':
      case 'endsWith':
      case 'matches': {
        const of = target ?? a!;
        const arg = target ? a : b;
        if (!of || !arg || !['string', 'dyn'].includes(of.k) || !['string', 'dyn'].includes(arg.k)) overload();
        return T.bool;
      }
      case 'lowerAscii':
      case 'upperAscii':
      case 'trim':
        if (!target || !['string', 'dyn'].includes(target.k)) overload();
        return T.string;
      case 'split':
        if (!target || !['string', 'dyn'].includes(target.k)) overload();
        return T.list(T.string);
      case 'join':
        if (!target || !['list', 'dyn'].includes(target.k)) overload();
        return T.string;
      case 'int':
      case 'uint':
      case 'double':
      case 'string':
      case 'bool':
      case 'bytes':
      case 'duration':
      case 'timestamp':
        if (target || args.length !== 1) overload();
        return fn === 'string' ? T.string : ({ k: fn } as CelT);
      case 'dyn':
        return T.dyn;
      case 'type':
        return { k: 'type' };
      case 'has':
      case '@not_strictly_false':
        return T.bool;
      default:
        return this.fail(expr, `undeclared reference to function '${fn}'`);
    }
  }

  /** `steps.x.outcome == "healty"`: a name its step never produces is a typo, caught here. */
  private outcomeLiteral(side: Expr, type: CelT, other?: Expr, list?: Expr): void {
    if (type.k !== 'string' || !type.outcomes) return;
    const literals: Expr[] = [];
    if (other) literals.push(other);
    if (list?.exprKind.case === 'listExpr') literals.push(...list.exprKind.value.elements);
    for (const literal of literals) {
      const kind = literal.exprKind;
      if (kind.case !== 'constExpr' || kind.value.constantKind.case !== 'stringValue') continue;
      const value = kind.value.constantKind.value;
      if (!type.outcomes.values.includes(value)) {
        this.fail(
          literal,
          `${type.outcomes.of} is never "${value}" (its outcomes: ${type.outcomes.values.join(', ')})`,
        );
      }
    }
    void side;
  }
}

function isBoolish(t: CelT): boolean {
  return t.k === 'bool' || t.k === 'dyn';
}

/** Whether values of the two types can be compared for equality (cel-go: the same type, or dyn/null). */
function assignable(a: CelT, b: CelT): boolean {
  if (a.k === 'dyn' || b.k === 'dyn' || a.k === 'null' || b.k === 'null') return true;
  if (a.k === 'list' && b.k === 'list') return assignable(a.elem, b.elem);
  if (a.k === 'map' && b.k === 'map') return assignable(a.key, b.key) && assignable(a.value, b.value);
  if (a.k === 'object' || b.k === 'object') return a.k === b.k || a.k === 'map' || b.k === 'map';
  return a.k === b.k;
}

function join(types: CelT[]): CelT {
  const [first, ...rest] = types;
  if (!first) return T.dyn;
  return rest.every((t) => t.k === first.k && typeName(t) === typeName(first)) ? first : T.dyn;
}

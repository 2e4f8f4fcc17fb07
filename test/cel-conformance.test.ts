/**
 * CEL as runbook files use it, against the CEL specification's conformance suite (shipped in
 * @bufbuild/cel-spec): the evaluator the workflows run (workflows/declarative/cel.ts) gives every
 * expected value and error of the core suites, and the validator's type checker
 * (runbooks/files/cel-check.ts) accepts every expression cel-go's checker accepts, with the same
 * type where it infers one. Cases that need protobuf messages, bindings or extensions are left out.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tests } from '@bufbuild/cel-spec/testdata/conformance.js';
import type { SerializedIncrementalTestSuite } from '@bufbuild/cel-spec/testdata/tests.js';
import { checkCel } from '../runbooks/files/cel-check';
import { evaluate } from '../workflows/declarative/cel';

/** The core language: no extension libraries, no protobuf messages. */
const SUITES = new Set([
  'basic',
  'comparisons',
  'logic',
  'lists',
  'macros',
  'string',
  'integer_math',
  'fp_math',
  'conversions',
  'parse',
  'plumbing',
]);

interface Case {
  name: string;
  expr: string;
  value?: Record<string, unknown>;
  evalError?: unknown;
  type?: string;
  checkError?: string;
}

function cases(): Case[] {
  const out: Case[] = [];
  const walk = (suite: SerializedIncrementalTestSuite, path: string) => {
    for (const t of suite.tests ?? []) {
      const o = t.original as Record<string, unknown> & { name?: string; expr: string };
      const extra = Object.keys(o).filter((k) => !['name', 'expr', 'value', 'description', 'evalError'].includes(k));
      if (extra.length > 0 || o.expr.includes('TestAllTypes')) continue;
      out.push({
        name: `${path}/${o.name ?? o.expr}`,
        expr: o.expr,
        ...(o.value ? { value: o.value as Record<string, unknown> } : {}),
        ...(o.evalError ? { evalError: o.evalError } : {}),
        ...(t.type ? { type: t.type } : {}),
        ...(t.error ? { checkError: t.error } : {}),
      });
    }
    for (const sub of suite.suites ?? []) walk(sub, `${path}/${sub.name}`);
  };
  for (const suite of tests.suites ?? []) if (SUITES.has(suite.name)) walk(suite, suite.name);
  return out;
}

/** A conformance `Value` as our evaluator returns it (JSON), or undefined when not comparable here. */
function expected(value: Record<string, unknown>): { v: unknown } | undefined {
  const [kind, x] = Object.entries(value)[0] ?? [];
  if (kind === 'int64Value' || kind === 'uint64Value') {
    const big = BigInt(x as string);
    return big > 2n ** 53n || big < -(2n ** 53n) ? undefined : { v: Number(big) };
  }
  if (kind === 'doubleValue') return typeof x === 'number' ? { v: x } : undefined;
  if (kind === 'stringValue' || kind === 'boolValue') return { v: x };
  if (kind === 'nullValue') return { v: null };
  return undefined;
}

test('the evaluator gives the conformance suite’s values and errors', () => {
  let compared = 0;
  const failures: string[] = [];
  for (const c of cases()) {
    if (c.value) {
      const want = expected(c.value);
      if (!want) continue;
      compared += 1;
      try {
        const got = evaluate(c.expr, {});
        if (!Object.is(got, want.v))
          failures.push(`${c.name}: ${c.expr} = ${JSON.stringify(got)}, want ${JSON.stringify(want.v)}`);
      } catch (err) {
        failures.push(`${c.name}: ${c.expr} threw ${(err as Error).message}`);
      }
    } else if (c.evalError) {
      compared += 1;
      assert.throws(() => evaluate(c.expr, {}), Error, `${c.name}: ${c.expr} must fail`);
    }
  }
  assert.deepEqual(failures, []);
  assert.ok(compared > 700, `compared ${compared} cases`);
});

test('the validator’s type checker accepts what cel-go checks, with the same scalar types', () => {
  let checked = 0;
  const failures: string[] = [];
  for (const c of cases()) {
    if (!c.type || c.checkError) continue;
    checked += 1;
    try {
      const type = checkCel(c.expr, {});
      const scalar = ['int', 'uint', 'double', 'string', 'bool', 'null'].includes(c.type);
      if (scalar && type.k !== 'dyn' && type.k !== c.type)
        failures.push(`${c.name}: ${c.expr} is ${type.k}, cel-go ${c.type}`);
    } catch (err) {
      failures.push(`${c.name}: ${c.expr}: ${(err as Error).message}`);
    }
  }
  assert.deepEqual(failures, []);
  assert.ok(checked > 700, `checked ${checked} expressions`);
});

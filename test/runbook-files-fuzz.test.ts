/**
 * 1,000 generated runbook files — the shipped P0 file mutated, definitions made up from the step
 * kinds with random CEL, and text cut or garbled — through validation: nothing throws past it,
 * every problem has a file and a line, and every file that passes becomes a catalog entry.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { parse as parseYaml, stringify } from 'yaml';
import { fileRunbookEntry } from '../runbooks/files/catalog';
import { STEP_KIND_NAMES } from '../runbooks/files/schema';
import { parseRunbookText } from '../runbooks/files/validate';

const P0_FILE = fileURLToPath(new URL('../runbooks/files/p0-incident-response.yaml', import.meta.url));
const RUNS = 1_000;

/** mulberry32: the same 1,000 files on every run (a failure names its seed). */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  return { next, int, pick };
}
type Rng = ReturnType<typeof prng>;

const CEL_ATOMS = [
  'steps.pods.outcome == "ok"',
  'steps.health_after.outcome in ["healthy", "skipped"]',
  'params.scaleUp',
  'params.expectStatus > 200',
  'steps.pods.restarts + 1',
  'size(targets) > 1',
  'target.deployment.startsWith("web")',
  'incident.severity == "P0"',
  'item.deployment',
  'steps.nope.outcome',
  '"a" == 1',
  '1 +',
  '[1, 2].exists(x, x > 1)',
  'steps.rollout.complete && !incident.rehearsal',
  'params.missing',
  'true ? 1 : "x"',
  '{"a": 1}["a"] == 1',
  'steps.gate.choice',
  '${',
  '',
];

function junk(rng: Rng, depth = 0): unknown {
  switch (rng.int(depth > 2 ? 6 : 9)) {
    case 0:
      return rng.pick(CEL_ATOMS);
    case 1:
      return rng.int(2000) - 1000;
    case 2:
      return rng.next() < 0.5;
    case 3:
      return null;
    case 4:
      return `\${${rng.pick(CEL_ATOMS)}}`;
    case 5:
      return rng.pick(['permanent', 'mitigation', '30s', '5m', 'x', 'restart', 'P0', 'targets', 'announce']);
    case 6:
      return Array.from({ length: rng.int(3) }, () => junk(rng, depth + 1));
    case 7: {
      const out: Record<string, unknown> = {};
      for (let i = rng.int(3); i >= 0; i -= 1)
        out[rng.pick([...STEP_KIND_NAMES, 'id', 'next', 'when', 'mode', 'x'])] = junk(rng, depth + 1);
      return out;
    }
    default:
      return randomStep(rng, 'junk', depth + 1);
  }
}

function randomStep(rng: Rng, id: string, depth: number): Record<string, unknown> {
  const kind = rng.pick(STEP_KIND_NAMES);
  const values: Record<string, () => unknown> = {
    health: () => ({}),
    pods: () => ({}),
    events: () => ({ limit: rng.int(30) }),
    previousLogs: () => ({ lines: 50 }),
    promql: () => ({ query: 'up', above: rng.int(10) }),
    memoryTrend: () => ({ window: '10m' }),
    traceSettings: () => ({ minSamplerRatio: rng.pick([0.5, 2, -1]) }),
    collectorDrops: () => ({ selector: 'job="otelcol"', receivers: rng.pick([['otlp'], 'params.x', 'steps']) }),
    report: () => ({}),
    restart: () => ({}),
    undo: () => ({}),
    scale: () => ({ mode: 'mitigation', add: 1 }),
    setEnv: () => ({ mode: 'mitigation', env: { A: '1' } }),
    setResources: () => ({ mode: 'permanent', limits: { memory: '512Mi' } }),
    waitForRollout: () => ({}),
    gate: () => ({ prompt: 'ok?' }),
    notify: () => 'hello ${target.deployment}',
    page: () => 'help',
    wait: () => rng.pick(['30s', { until: rng.pick(CEL_ATOMS), timeout: '1m' }]),
    forEach: () => ({ over: 'targets', steps: depth > 2 ? [] : [randomStep(rng, `${id}_in`, depth + 1)] }),
    end: () => ({ status: rng.pick(['mitigated', 'failed', 'done', 'maybe']) }),
  };
  const step: Record<string, unknown> = { id, [kind]: values[kind]!() };
  if (rng.next() < 0.3) step.when = rng.pick(CEL_ATOMS);
  if (rng.next() < 0.2) step.next = rng.pick(['s0', 's1', 's2', [{ if: rng.pick(CEL_ATOMS), goto: 's1' }]]);
  return step;
}

function mutate(rng: Rng, value: unknown): unknown {
  if (Array.isArray(value)) {
    const copy = value.map((item) => (rng.next() < 0.2 ? mutate(rng, item) : item));
    if (rng.next() < 0.1 && copy.length > 0) copy.splice(rng.int(copy.length), 1);
    if (rng.next() < 0.1 && copy.length > 0) copy.push(copy[rng.int(copy.length)]);
    return copy;
  }
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      const roll = rng.next();
      if (roll < 0.05) continue;
      out[roll < 0.08 ? rng.pick([...STEP_KIND_NAMES, 'id', 'x']) : key] = roll < 0.15 ? junk(rng) : mutate(rng, item);
    }
    return out;
  }
  return rng.next() < 0.1 ? junk(rng) : value;
}

test(`${RUNS} generated runbook files never throw past validation`, async () => {
  const p0 = parseYaml(await readFile(P0_FILE, 'utf8')) as Record<string, unknown>;
  let valid = 0;
  const kinds = new Set<string>();
  for (let seed = 1; seed <= RUNS; seed += 1) {
    const rng = prng(seed);
    let definition: unknown;
    const mode = seed % 3;
    if (mode === 0) definition = mutate(rng, p0);
    else if (mode === 1) {
      const steps = Array.from({ length: 1 + rng.int(6) }, (_, i) => randomStep(rng, `s${i}`, 0));
      definition = {
        id: 'fuzz',
        title: 'Fuzz',
        ...(rng.next() < 0.5 ? { params: { n: { type: 'integer', default: rng.int(5) } } } : {}),
        steps,
      };
    } else definition = junk(rng);
    let text = stringify(definition);
    if (rng.next() < 0.15) text = text.slice(0, rng.int(text.length + 1));
    if (rng.next() < 0.1) {
      const at = rng.int(text.length + 1);
      text = `${text.slice(0, at)}${rng.pick([':', '- ', '[', '"', '\t', '&a', '*a', '\n  x'])}${text.slice(at)}`;
    }
    const file = `fuzz-${seed}.yaml`;
    let parsed;
    try {
      parsed = parseRunbookText(text, file);
    } catch (err) {
      assert.fail(`seed ${seed}: validation threw ${(err as Error).stack}\n${text}`);
    }
    for (const issue of parsed.issues) {
      assert.ok(!issue.message.startsWith('internal validation error'), `seed ${seed}: ${issue.message}\n${text}`);
      assert.equal(issue.file, file);
      assert.ok(issue.line >= 1 && issue.column >= 1, `seed ${seed}: a line and column`);
      kinds.add(issue.message.replace(/[^a-zA-Z ].*$/, '').slice(0, 20));
    }
    if (parsed.runbook) {
      valid += 1;
      assert.equal(parsed.issues.length, 0);
      const entry = fileRunbookEntry({ file, hash: '0'.repeat(64), definition: parsed.runbook });
      assert.equal(entry.id, parsed.runbook.id);
    } else {
      assert.ok(parsed.issues.length > 0, `seed ${seed}: rejected without a reason`);
    }
  }
  // Both sides were exercised: some files pass, most are refused for many different reasons.
  assert.ok(valid > 20, `${valid} valid`);
  assert.ok(valid < RUNS - 300, `${valid} valid`);
  assert.ok(kinds.size > 10, `${kinds.size} kinds of problem`);
});

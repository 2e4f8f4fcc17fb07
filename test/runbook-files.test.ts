/**
 * Runbook files (runbooks/files): the published JSON Schema is the zod schema's, the shipped files
 * validate, every kind of invalid file is reported with its file and line (and never throws), the
 * loader skips a bad file and keeps the rest, a missing directory is a configuration error (exit
 * 2), and file runbooks sit in the catalog beside the built-in ones with their definition pinned
 * in the start input.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { runCliCaptured } from './cli-support';
import { DEFAULT_POLICY } from '../common/incident';
import { ConfigError } from '../config/env';
import { findRunbook, prepareIncident, registerFileRunbooks, runbooksForAlert } from '../runbooks';
import { loadRunbookDir, loadRunbookText } from '../client/runbook-files';
import { runbookJsonSchema } from '../runbooks/files/schema';
import { parseRunbookText } from '../runbooks/files/validate';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const FILES_DIR = path.join(REPO, 'runbooks/files');
const P0_FILE = path.join(FILES_DIR, 'p0-incident-response.yaml');

async function cli(argv: string[], env: NodeJS.ProcessEnv = {}) {
  return runCliCaptured(argv, { PATH: process.env.PATH, ...env });
}

/** The p0 file with one edit; asserts the edit applied. */
async function p0With(from: string, to: string): Promise<string> {
  const text = await readFile(P0_FILE, 'utf8');
  assert.ok(text.includes(from), `the p0 file contains ${from}`);
  return text.replace(from, to);
}

function lineOf(text: string, fragment: string): number {
  const index = text.indexOf(fragment);
  assert.ok(index >= 0, `text contains ${fragment}`);
  return text.slice(0, index).split('\n').length;
}

test('docs/runbook.schema.json is the zod schema’s JSON Schema (regenerate: firebreak runbooks schema)', async () => {
  const committed = JSON.parse(await readFile(path.join(REPO, 'docs/runbook.schema.json'), 'utf8'));
  assert.deepEqual(committed, runbookJsonSchema());
  const printed = await cli(['runbooks', 'schema']);
  assert.equal(printed.code, 0);
  assert.deepEqual(JSON.parse(printed.stdout), committed);
});

test('the shipped runbook files validate', async () => {
  const result = await cli(['runbooks', 'validate', P0_FILE]);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /ok .*p0-incident-response\.yaml: p0-incident-response \(sha256 [0-9a-f]{12}\)/);
});

test('invalid files: schema error, unknown step, CEL type error, cycle — each with file and line', async () => {
  const cases: { name: string; text: string; line: number; message: RegExp }[] = [];
  const schema = await p0With('events: { limit: 20 }', 'events: { limit: many }');
  cases.push({
    name: 'schema',
    text: schema,
    line: lineOf(schema, 'limit: many'),
    message: /limit: .*expected number/,
  });
  const unknown = await p0With('    pods: {}', '    pod_list: {}');
  cases.push({
    name: 'unknown',
    text: unknown,
    line: lineOf(unknown, 'pod_list'),
    message: /unknown step kind "pod_list"/,
  });
  const celType = await p0With('when: params.scaleUp', 'when: params.scaleUp + 1');
  cases.push({
    name: 'cel-type',
    text: celType,
    line: lineOf(celType, 'params.scaleUp + 1'),
    message: /no matching overload for '_\+_' applied to '\(bool, int\)'/,
  });
  const cycle = await p0With('      - goto: escalate', '      - goto: announce');
  cases.push({
    name: 'cycle',
    text: cycle,
    line: lineOf(cycle, '    next:'),
    message: /cycle: announce → .* → announce/,
  });
  const noMode = await p0With('      mode: mitigation\n', '');
  cases.push({
    name: 'no-mode',
    text: noMode,
    line: lineOf(noMode, '      add: 1'), // the scale mapping's first line
    message: /scale\.mode: required: permanent, or mitigation/,
  });
  const outcome = await p0With('["healthy", "skipped"]', '["healty"]');
  cases.push({ name: 'outcome', text: outcome, line: lineOf(outcome, 'healty'), message: /never "healty"/ });
  const unreachable = await p0With('      - goto: escalate', '      - goto: recovered');
  cases.push({
    name: 'unreachable',
    text: unreachable,
    line: lineOf(unreachable, '  - id: escalate'),
    message: /step escalate is unreachable/,
  });
  const syntax = await p0With('when: steps.pods.crashed > 0', 'when: steps.pods.crashed >');
  cases.push({
    name: 'syntax',
    text: syntax,
    line: lineOf(syntax, 'steps.pods.crashed >'),
    message: /CEL syntax error/,
  });
  const undeclared = await p0With('when: steps.pods.crashed > 0', 'when: steps.podz.crashed > 0');
  cases.push({
    name: 'undeclared',
    text: undeclared,
    line: lineOf(undeclared, 'steps.podz'),
    message: /steps has no field 'podz'/,
  });

  const dir = await mkdtemp(path.join(tmpdir(), 'firebreak-runbook-files-'));
  for (const c of cases) {
    const file = path.join(dir, `${c.name}.yaml`);
    await writeFile(file, c.text);
    const parsed = parseRunbookText(c.text, file);
    assert.equal(parsed.runbook, undefined, c.name);
    const issue = parsed.issues.find((i) => c.message.test(i.message));
    assert.ok(issue, `${c.name}: ${JSON.stringify(parsed.issues)}`);
    assert.equal(issue.file, file);
    assert.equal(issue.line, c.line, `${c.name}: ${issue.message}`);
  }
  // The CLI says the same as file:line:column, exit 1; the good file beside them still validates.
  const result = await cli(['runbooks', 'validate', P0_FILE, ...cases.map((c) => path.join(dir, `${c.name}.yaml`))]);
  assert.equal(result.code, 1);
  for (const c of cases) assert.match(result.stdout, new RegExp(`${c.name}\\.yaml:${c.line}:\\d+: `));
  assert.match(result.stdout, new RegExp(`1 valid, ${cases.length} invalid`));
});

test('a bad file is reported and skipped at start-up, the others load; a missing directory is exit 2', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'firebreak-runbook-dir-'));
  await writeFile(path.join(dir, 'p0.yaml'), await readFile(P0_FILE, 'utf8'));
  await writeFile(path.join(dir, 'broken.yaml'), 'id: broken\ntitle: Broken\nsteps:\n  - id: a\n    frobnicate: {}\n');
  await writeFile(path.join(dir, 'not-yaml.yml'), 'id: [\n');
  await writeFile(
    path.join(dir, 'clash.yaml'),
    (await readFile(P0_FILE, 'utf8')).replace('id: p0-incident-response', 'id: p0-response'),
  );
  await writeFile(path.join(dir, 'README.txt'), 'not a runbook');
  const { loaded, issues } = await loadRunbookDir(dir, new Set(['p0-response', 'p0']));
  assert.deepEqual(
    loaded.map((entry) => entry.definition.id),
    ['p0-incident-response'],
  );
  assert.deepEqual([...new Set(issues.map((issue) => path.basename(issue.file)))].sort(), [
    'broken.yaml',
    'clash.yaml',
    'not-yaml.yml',
  ]);
  assert.equal(issues.find((issue) => issue.file.endsWith('broken.yaml'))?.line, 5);

  await assert.rejects(loadRunbookDir(path.join(dir, 'nope'), new Set()), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.match(err.message, /FIREBREAK_RUNBOOKS_DIR: .*nope is not a directory/);
    return true;
  });
  const missing = await cli(['runbooks'], { FIREBREAK_RUNBOOKS_DIR: path.join(dir, 'nope') });
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /FIREBREAK_RUNBOOKS_DIR/);

  const listed = await cli(['runbooks', '--json'], { FIREBREAK_RUNBOOKS_DIR: dir });
  assert.equal(listed.code, 0, listed.stderr);
  const ids = (JSON.parse(listed.stdout) as { id: string }[]).map((entry) => entry.id);
  assert.deepEqual(ids, [
    'p0-response',
    'emergency-rollback',
    'avalanche-mitigation',
    'oom-triage',
    'p0-incident-response',
  ]);
  assert.match(listed.stderr, /skipped: .*broken\.yaml:5:\d+: step a: unknown step kind "frobnicate"/);
  registerFileRunbooks([]);
});

test('a file runbook is found by id and alias, routed by its alert hints, and pinned in the start input', async () => {
  const text = await readFile(P0_FILE, 'utf8');
  const { loaded } = loadRunbookText(text, P0_FILE);
  try {
    registerFileRunbooks(loaded);
    assert.equal(findRunbook('p0-file')?.id, 'p0-incident-response');
    assert.equal(runbooksForAlert({ alertname: 'ServiceDownFile' })[0]?.id, 'p0-incident-response');
    const prepared = prepareIncident({
      runbook: 'p0-file',
      targets: [{ namespace: 'shop', deployment: 'checkout' }],
      params: { scaleUp: 'false' },
      trigger: { kind: 'cli', user: 'ana' },
      policy: DEFAULT_POLICY,
    });
    assert.equal(prepared.workflowType, 'declarativeRunbookWorkflow');
    assert.equal(prepared.input.runbook, 'p0-incident-response');
    assert.equal(prepared.input.severity, 'P0');
    assert.deepEqual(prepared.input.params, { expectStatus: 200, scaleUp: false });
    assert.equal(prepared.input.definition?.hash, loaded[0]!.hash);
    assert.equal(prepared.input.definition?.definition.steps.length, loaded[0]!.definition.steps.length);
    assert.throws(
      () =>
        prepareIncident({
          runbook: 'p0-incident-response',
          targets: [{ namespace: 'shop', deployment: 'checkout' }],
          params: { expectStatus: 'ok' },
          trigger: { kind: 'cli', user: 'ana' },
          policy: DEFAULT_POLICY,
        }),
      /invalid parameters for p0-incident-response/,
    );
  } finally {
    registerFileRunbooks([]);
  }
  assert.equal(findRunbook('p0-file'), undefined);
});

test('`firebreak runbooks` lists a file runbook with every default and its gates, the restore gate included', async () => {
  try {
    const text = await cli(['runbooks'], { FIREBREAK_RUNBOOKS_DIR: FILES_DIR });
    assert.equal(text.code, 0, text.stderr);
    const entry = (id: string) => text.stdout.split('\n\n').find((block) => block.startsWith(`${id} (alias`)) ?? '';
    // A boolean's default is shown like any other (z.toJSONSchema leaves it out of a converted input).
    assert.match(entry('p0-incident-response'), /params: healthUrl, expectStatus=200, scaleUp=true\n/);
    // Its scale-up is a temporary mitigation: resolving asks the kernel's restore gate, as for the built-ins.
    assert.match(entry('p0-incident-response'), /gates: {2}approve-restart, restore\n/);
    assert.match(entry('trace-data-loss'), /gates: {2}offer-exporter, restore\n/);
    assert.match(entry('oom-triage'), /offerDisableTraceExport=true/);
    assert.match(entry('p0-response'), /gates: {2}restart\n/, 'no mitigation, no restore gate');
    assert.doesNotMatch(text.stdout, /No runbook files/);
    const none = await cli(['runbooks']);
    assert.match(none.stdout, /^No runbook files: neither FIREBREAK_RUNBOOKS_DIR nor the config file's runbooks\.dir/m);
    const json = await cli(['runbooks', '--json'], { FIREBREAK_RUNBOOKS_DIR: FILES_DIR });
    const entries = JSON.parse(json.stdout) as { id: string; params: { properties: Record<string, object> } }[];
    const p0 = entries.find((e) => e.id === 'p0-incident-response')!;
    assert.deepEqual(p0.params.properties.scaleUp, {
      default: true,
      description: 'Add one replica while the incident is open (restored when it ends)',
      type: ['boolean', 'string'],
    });
  } finally {
    registerFileRunbooks([]);
  }
});

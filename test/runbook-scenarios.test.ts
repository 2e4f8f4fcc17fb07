/**
 * `firebreak runbooks test FILE --scenario …`: the shipped p0 runbook file against its two shipped
 * scenarios (recovers; the rollout stalls and it escalates) and a failing scenario — a wrong
 * expectation, a decision for a gate that never opens — on the embedded dev server the command
 * starts itself when TEMPORAL_ADDRESS is unset (what a team's CI gets), then a quorum gate where the
 * same person's second approval must be refused, on the bed's Temporal. The shipped scenarios target
 * shop/checkout, whose deployment hold other suites' incidents on the shared bed may own (a
 * scenario's incident takes its target's hold like any other): they get a server of their own. Pass/fail per expectation,
 * exit 0/1; a bad scenario file is a usage error (exit 2) naming its line.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { runCli } from '../cli/cli';
import { HOLD_WORKFLOW_TYPE, holdWorkflowId } from '../domain/hold';
import { parseScenarioText } from '../runbooks/files/scenario';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const P0_FILE = path.join(REPO, 'runbooks/files/p0-incident-response.yaml');
const SCENARIOS = path.join(REPO, 'runbooks/files/scenarios');
const dir = await mkdtemp(path.join(tmpdir(), 'firebreak-scenarios-'));

async function cli(argv: string[], env: NodeJS.ProcessEnv) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      FIREBREAK_WORKFLOW_BUNDLE: process.env.FIREBREAK_TEST_WORKFLOW_BUNDLE,
      ...env,
    },
  });
  return { code, stdout, stderr };
}

/** The bed's Temporal, named explicitly (TEMPORAL_ADDRESS is ignored: it may be production). */
const bedTemporal = () => [
  '--temporal-address',
  process.env.FIREBREAK_TEST_TEMPORAL_ADDRESS!,
  '--temporal-namespace',
  process.env.FIREBREAK_TEST_TEMPORAL_NAMESPACE ?? 'default',
];

test('the shipped scenarios pass: one line per expectation, exit 0', async () => {
  const result = await cli(
    [
      'runbooks',
      'test',
      P0_FILE,
      '--scenario',
      path.join(SCENARIOS, 'p0-recovers.yaml'),
      '--scenario',
      path.join(SCENARIOS, 'p0-rollout-stalls.yaml'),
    ],
    { TEMPORAL_ADDRESS: '127.0.0.1:1' },
  );
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /^runbook p0-incident-response \(.*, sha256 [0-9a-f]{12}\)$/m);
  assert.match(result.stdout, /^PASS scenario the restart brings checkout back/m);
  assert.match(result.stdout, /· gate approve-restart: approve by bob → approved/);
  assert.match(result.stdout, /^ {2}ok {3}cluster changes are \[scaleDeployment, rolloutRestart, scaleDeployment\]$/m);
  assert.match(result.stdout, /^ {2}ok {3}every mitigation restored$/m);
  assert.match(result.stdout, /^PASS scenario a stalled rollout escalates/m);
  assert.match(result.stdout, /^ {2}ok {3}the runbook failed$/m);
  assert.match(result.stdout, /· runbook ended: open \(failed: ESCALATION: automatic recovery failed/);
  assert.match(result.stdout, /^2 scenarios passed, 0 failed$/m);
});

test('a failing scenario says what it expected and what it got, exit 1 (embedded dev server)', async () => {
  const wrong = path.join(dir, 'wrong.yaml');
  await writeFile(
    wrong,
    [
      'name: expects recovery where the rollout stalls',
      'targets: [shop/cart]',
      'params: { scaleUp: false }',
      'world: { rolloutComplete: false }',
      'decisions:',
      '  - { gate: approve-restart, by: bob }',
      'expect:',
      '  status: mitigated',
      '  failed: false',
      '  changes: [scaleDeployment, rolloutRestart]',
      '  gates: { approve-restart: approved }',
      '',
    ].join('\n'),
  );
  const undecided = path.join(dir, 'undecided.yaml');
  await writeFile(undecided, 'name: nobody decides\ntargets: [shop/cart]\ndecisions:\n  - { gate: restore }\n');
  // No --temporal-address: the command starts (and removes) its own dev server; TEMPORAL_ADDRESS is not used.
  const result = await cli(['runbooks', 'test', P0_FILE, '--scenario', wrong, '--scenario', undecided], {
    TEMPORAL_ADDRESS: '127.0.0.1:1',
  });
  assert.equal(result.code, 1, result.stdout + result.stderr);
  assert.match(result.stderr, /starting a local Temporal dev server/);
  assert.match(result.stdout, /^FAIL scenario expects recovery where the rollout stalls/m);
  assert.match(result.stdout, /^ {2}FAIL status is mitigated — got status open$/m);
  assert.match(result.stdout, /^ {2}FAIL the runbook did not fail — got failed: ESCALATION/m);
  assert.match(
    result.stdout,
    /^ {2}FAIL cluster changes are \[scaleDeployment, rolloutRestart\] — got \[rolloutRestart\]$/m,
  );
  assert.match(result.stdout, /^ {2}ok {3}gate approve-restart is approved$/m);
  assert.match(result.stdout, /^FAIL scenario nobody decides/m);
  assert.match(
    result.stdout,
    /FAIL gate approve-restart waits for a decision the scenario does not give .*; decisions never used: restore/,
  );
  assert.match(result.stdout, /^0 scenarios passed, 2 failed$/m);
});

test('a quorum gate: the same person twice is refused as the scenario expects; a second person proceeds', async () => {
  const runbook = path.join(dir, 'two-person-restart.yaml');
  await writeFile(
    runbook,
    [
      'id: two-person-restart',
      'title: Restart with two approvals',
      'steps:',
      '  - id: approve',
      '    gate: { prompt: Restart?, quorum: 2 }',
      '  - id: restart',
      '    restart: {}',
      '  - id: done',
      '    end: { status: mitigated, message: restarted }',
      '',
    ].join('\n'),
  );
  const scenario = path.join(dir, 'quorum.yaml');
  await writeFile(
    scenario,
    [
      'name: two of on-call',
      'decisions:',
      '  - { gate: approve, by: bob }',
      '  - { gate: approve, by: bob, refused: true }',
      '  - { gate: approve, by: alice }',
      'expect: { status: mitigated, changes: [rolloutRestart], gates: { approve: approved } }',
      '',
    ].join('\n'),
  );
  const result = await cli(['runbooks', 'test', runbook, '--scenario', scenario, '--json', ...bedTemporal()], {});
  assert.equal(result.code, 0, result.stdout + result.stderr);
  const report = JSON.parse(result.stdout) as {
    ok: boolean;
    scenarios: { steps: string[]; results: { ok: boolean; expectation: string }[] }[];
  };
  assert.equal(report.ok, true);
  const [only] = report.scenarios;
  assert.deepEqual(only!.steps.slice(0, 3), [
    'gate approve: approve by bob → pending (1 of 2)',
    'gate approve: approve by bob → refused: bob already approved gate approve; it needs 2 different people',
    'gate approve: approve by alice → approved',
  ]);
  assert.ok(only!.results.every((r) => r.ok));
  assert.equal(only!.results.length, 4, 'the refusal and the three expectations');
});

test("a scenario held up behind another incident's deployment hold says so when it times out", async () => {
  const target = { namespace: 'shop', deployment: `held-${randomUUID().slice(0, 8)}` };
  const connection = await Connection.connect({ address: process.env.FIREBREAK_TEST_TEMPORAL_ADDRESS! });
  const client = new Client({ connection, namespace: process.env.FIREBREAK_TEST_TEMPORAL_NAMESPACE ?? 'default' });
  // Another incident holds the deployment; its hold lives on a queue this command's worker does not serve.
  const hold = await client.workflow.start(HOLD_WORKFLOW_TYPE, {
    workflowId: holdWorkflowId(target),
    taskQueue: `elsewhere-${randomUUID()}`,
    args: [{ target, holder: { workflowId: 'incident-elsewhere', incidentId: 'INC-ELSEWHERE' } }],
  });
  try {
    const scenario = path.join(dir, 'held.yaml');
    await writeFile(
      scenario,
      `name: held up\ntargets: [shop/${target.deployment}]\ntimeout: 8s\ndecisions:\n  - { gate: approve-restart, by: bob }\n`,
    );
    const result = await cli(['runbooks', 'test', P0_FILE, '--scenario', scenario, ...bedTemporal()], {});
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.match(
      result.stdout,
      new RegExp(`timed out after 8 s at step .*; waiting for the deployment hold on shop/${target.deployment}`),
    );
  } finally {
    await hold.terminate('test over').catch(() => undefined);
    await connection.close();
  }
});

test('a bad scenario file names its line (exit 2)', async () => {
  const parsed = parseScenarioText('name: x\nworld:\n  health: yes\nexpect:\n  status: fine\n', 'bad.yaml');
  assert.deepEqual(parsed.problems?.length, 2);
  assert.match(parsed.problems![0]!, /^bad\.yaml:3: world\.health: /);
  assert.match(parsed.problems![1]!, /^bad\.yaml:5: expect\.status: /);
  const bad = path.join(dir, 'bad.yaml');
  await writeFile(bad, 'decisions:\n  - { gate: approve-restart, by: bob, typo: 1 }\n');
  const result = await cli(['runbooks', 'test', P0_FILE, '--scenario', bad], {});
  assert.equal(result.code, 2);
  assert.match(result.stderr, /bad\.yaml:2: decisions\.0: Unrecognized key: "typo"/);
});

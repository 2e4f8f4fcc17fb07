/**
 * The `firebreak` CLI against the real dev server: every command, run in-process through
 * `runCli` (and the real bin for exit codes), with the real runbook workflows on a worker of the
 * test's own task queue and typed fake activities. Bad ids, bad flags and Temporal down included.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import type { Client, Connection } from '@temporalio/client';
import { runCliCaptured } from './cli-support';
import { COMMANDS } from '../cli/commands';
import { DEFAULT_POLICY } from '../common/incident';
import { incidentIdKey } from '../common/search-attributes';
import type { IncidentRecord } from '../common/types';
import { prepareIncident } from '../runbooks';
import { statusQuery } from '../domain/messages';
import { freePort } from './bed/ports';
import { connectTestClient, runTestWorker, testTemporalAddress, uniqueTaskQueue, type TestWorker } from './bed/worker';
import { FakeWorld } from './workflows/fakes';

const execFileAsync = promisify(execFile);
const REPO = fileURLToPath(new URL('..', import.meta.url));
const BIN = path.join(REPO, 'bin/firebreak.mjs');
const LOADED_PACKAGES = fileURLToPath(new URL('./fixtures/loaded-packages.mjs', import.meta.url));

let client: Client;
let connection: Connection;
let worker: TestWorker;
let workDir: string;
const world = new FakeWorld();

before(async () => {
  ({ client, connection } = await connectTestClient());
  worker = await runTestWorker({ activities: world.activities(), taskQueue: uniqueTaskQueue('cli') });
  workDir = await mkdtemp(path.join(tmpdir(), 'firebreak-cli-'));
});

after(async () => {
  await worker?.stop();
  await connection?.close();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

async function cli(args: string[], options: { user?: string; env?: NodeJS.ProcessEnv; interrupt?: AbortSignal } = {}) {
  return runCliCaptured(
    args,
    {
      TEMPORAL_ADDRESS: testTemporalAddress(),
      TEMPORAL_NAMESPACE: process.env.FIREBREAK_TEST_TEMPORAL_NAMESPACE ?? 'default',
      FIREBREAK_TASK_QUEUE: worker.taskQueue,
      FIREBREAK_USER: options.user ?? 'carol',
      ...options.env,
    },
    options.interrupt ? { interrupt: options.interrupt } : {},
  );
}

const unique = (name: string) => `${name}-${Math.random().toString(36).slice(2, 8)}`;

describe('usage, help and exit codes', { concurrency: true }, () => {
  for (const command of [
    'runbooks',
    'run',
    'incidents',
    'status',
    'ack',
    'approve',
    'reject',
    'resolve',
    'postmortem',
    'replay',
  ]) {
    test(`${command} --help`, async () => {
      const { code, stdout } = await cli([command, '--help']);
      assert.equal(code, 0);
      assert.match(stdout, new RegExp(`usage: firebreak ${command}`));
      if (command === 'run') {
        assert.match(stdout, /--dry-run/);
        assert.match(stdout, /--yes +with --dry-run only/);
      }
    });
  }

  test('no command: the overview and exit 2; help: exit 0; an unknown command: exit 2', async () => {
    const none = await cli([]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /Commands:[\s\S]*postmortem/);
    assert.equal((await cli(['help'])).code, 0);
    const unknown = await cli(['deploy']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command deploy/);
  });

  const usageErrors: [string, string[], RegExp][] = [
    ['an unknown flag', ['incidents', '--bogus'], /Unknown option '--bogus'/],
    ['a missing target', ['run', 'p0'], /--target <namespace>\/<deployment> is required/],
    ['an unknown runbook', ['run', 'reboot', '--target', 'shop/a'], /unknown runbook reboot/],
    ['a malformed target', ['run', 'p0', '--target', 'Shop'], /--target must be <namespace>\/<deployment>/],
    ['a bad severity', ['run', 'p0', '--target', 'shop/a', '--severity', 'P9'], /--severity must be one of/],
    ['a param without =', ['run', 'p0', '--target', 'shop/a', '--param', 'healthUrl'], /--param must be key=value/],
    ['a param the schema refuses', ['run', 'oom', '--target', 'shop/a', '--param', 'memoryLimit=lots'], /memoryLimit/],
    ['two targets for a single-target runbook', ['run', 'p0', '--target', 'shop/a,b'], /acts on one deployment/],
    ['--yes without --dry-run', ['run', 'p0', '--target', 'shop/a', '--yes'], /--yes only goes with --dry-run/],
    ['a bad status filter', ['incidents', '--status', 'sleeping'], /--status must be one of/],
    ['a bad format', ['postmortem', 'x', '--format', 'pdf'], /--format must be md or json/],
    ['a missing id', ['ack'], /ack needs an incident id/],
    ['an extra argument', ['status', 'a', 'b'], /unexpected argument b/],
  ];
  for (const [what, args, message] of usageErrors) {
    test(`usage error: ${what} → exit 2 with the usage`, async () => {
      const { code, stderr } = await cli(args);
      assert.equal(code, 2, stderr);
      assert.match(stderr, message);
      assert.match(stderr, /usage: firebreak/);
    });
  }

  test('a bad environment value is a configuration error: exit 2', async () => {
    const { code, stderr } = await cli(['incidents'], { env: { FIREBREAK_TEMPORAL_PORT: 'seventy' } });
    assert.equal(code, 2);
    assert.match(stderr, /FIREBREAK_TEMPORAL_PORT/);
  });

  test('an unreadable TEMPORAL_TLS_CERT is a configuration error naming it: exit 2', async () => {
    const { code, stderr } = await cli(['incidents'], {
      env: {
        TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}`,
        TEMPORAL_TLS_CERT: '/nonexistent/firebreak-cert.pem',
        TEMPORAL_TLS_KEY: '/nonexistent/firebreak-key.pem',
      },
    });
    assert.equal(code, 2, stderr);
    assert.match(stderr, /TEMPORAL_TLS_CERT: cannot read \/nonexistent\/firebreak-cert\.pem \(ENOENT\)/);
  });

  test('Temporal down: a clear message and exit 1, from the real bin too', async () => {
    const closed = `127.0.0.1:${await freePort()}`;
    const inProcess = await cli(['status', 'incident:p0-response:shop/a'], { env: { TEMPORAL_ADDRESS: closed } });
    assert.equal(inProcess.code, 1);
    assert.match(inProcess.stderr, new RegExp(`cannot reach Temporal at ${closed}`));

    const env = { ...process.env, TEMPORAL_ADDRESS: '', FIREBREAK_TEMPORAL_PORT: closed.split(':')[1]! };
    const spawned = await execFileAsync(process.execPath, [BIN, 'incidents'], { env, timeout: 90_000 }).then(
      () => ({ code: 0, stderr: '' }),
      (err: { code: number; stderr: string }) => err,
    );
    assert.equal(spawned.code, 1);
    assert.match(spawned.stderr, /cannot reach Temporal at 127\.0\.0\.1:\d+ — is `firebreak start` running\?/);
  });

  test('the compiled bin loads no Temporal package for --help, and the native worker only for `start`', async () => {
    const closed = String(await freePort());
    const env = { ...process.env, TEMPORAL_ADDRESS: '', FIREBREAK_TEMPORAL_PORT: closed };
    for (const args of [['--help'], ['status', '--help'], ['incidents']]) {
      const { stderr } = await execFileAsync(process.execPath, ['--import', LOADED_PACKAGES, BIN, ...args], {
        env,
        timeout: 90_000,
      }).catch((err: { stderr: string }) => err);
      assert.doesNotMatch(stderr, /running from the TypeScript sources/, 'the bin ran the compiled CLI');
      const line = /^loaded-packages (.*)$/m.exec(stderr);
      assert.ok(line, `no module list from firebreak ${args.join(' ')}: ${stderr}`);
      const loaded = JSON.parse(line[1]!) as string[];
      if (args[0] === '--help') {
        assert.deepEqual(loaded, [], 'the command list loads no command module');
        continue;
      }
      assert.ok(loaded.includes('@temporalio/common'), 'the probe sees the Temporal packages that do load');
      for (const native of ['@temporalio/worker', '@temporalio/core-bridge']) {
        assert.ok(!loaded.includes(native), `firebreak ${args.join(' ')} loaded ${native}`);
      }
    }
  });

  test("the registry's names and summaries are its command modules' own", async () => {
    for (const entry of COMMANDS) {
      const command = await entry.load();
      assert.equal(command.name, entry.name);
      assert.equal(command.summary, entry.summary, `the summary of ${entry.name}`);
    }
  });

  test('without a compiled CLI the bin runs the sources through tsx and says how to compile', async () => {
    // A checkout of the same sources with no dist/: every top-level entry linked, bin/ copied so it
    // resolves this root.
    const root = await mkdtemp(path.join(tmpdir(), 'firebreak-uncompiled-'));
    try {
      for (const name of await readdir(REPO)) {
        if (name === 'dist' || name === 'bin' || name === '.git') continue;
        await symlink(path.join(REPO, name), path.join(root, name));
      }
      await mkdir(path.join(root, 'bin'));
      await copyFile(BIN, path.join(root, 'bin/firebreak.mjs'));
      const help = await execFileAsync(
        process.execPath,
        [path.join(root, 'bin/firebreak.mjs'), 'postmortem', '--help'],
        {
          timeout: 90_000,
        },
      );
      assert.match(help.stdout, /usage: firebreak postmortem <id>/);
      assert.match(help.stderr, /the compiled CLI is out of date \(it is not built\); `npm run build` compiles it/);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  test('the real bin: --help exits 0, a usage error exits 2', async () => {
    const help = await execFileAsync(process.execPath, [BIN, 'postmortem', '--help'], { timeout: 90_000 });
    assert.match(help.stdout, /usage: firebreak postmortem <id>/);
    const bad = await execFileAsync(process.execPath, [BIN, 'run', 'p0'], { timeout: 90_000 }).then(
      () => ({ code: 0 }),
      (err: { code: number }) => err,
    );
    assert.equal(bad.code, 2);
  });
});

describe('runbooks', () => {
  test('lists the catalog, as text and JSON with parameter schemas', async () => {
    const text = await cli(['runbooks']);
    assert.equal(text.code, 0);
    for (const id of ['p0-response', 'emergency-rollback', 'avalanche-mitigation', 'oom-triage']) {
      assert.match(text.stdout, new RegExp(`^${id} \\(alias`, 'm'));
    }
    const json = await cli(['runbooks', '--json']);
    const entries = JSON.parse(json.stdout) as {
      id: string;
      gates: { name: string }[];
      params: { properties: object };
    }[];
    assert.equal(entries.length, 4);
    const rollback = entries.find((entry) => entry.id === 'emergency-rollback')!;
    assert.deepEqual(
      rollback.gates.map((gate) => gate.name),
      ['confirm-rollback'],
    );
    assert.ok('revision' in rollback.params.properties);
  });
});

describe('incident lifecycle from the terminal', { concurrency: true }, () => {
  test('run p0 → follows to mitigated; incidents filters; status; ack; resolve; postmortem', async () => {
    const target = `shop/${unique('checkout')}`;
    const run = await cli([
      'run',
      'p0',
      '--target',
      target,
      '--param',
      'healthUrl=http://health.local/healthz',
      '--json',
    ]);
    assert.equal(run.code, 0, run.stderr);
    const started = JSON.parse(run.stdout) as {
      workflowId: string;
      incidentId: string;
      started: boolean;
      record: IncidentRecord;
    };
    assert.equal(started.started, true);
    assert.equal(started.record.status, 'mitigated');
    assert.equal(started.record.trigger.kind, 'cli');
    const workflowId = started.workflowId;
    assert.equal(workflowId, `incident:p0-response:${target}`);

    // The same target again: no second incident.
    const again = await cli(['run', 'p0', '--target', target, '--no-wait', '--json']);
    assert.equal((JSON.parse(again.stdout) as { started: boolean }).started, false);

    const listed = async (args: string[]) => {
      const { code, stdout, stderr } = await cli(['incidents', ...args, '--json']);
      assert.equal(code, 0, stderr);
      return (JSON.parse(stdout) as { workflowId: string }[]).map((row) => row.workflowId);
    };
    // Visibility is eventually consistent: give it a moment to index the status change.
    await eventually(async () =>
      assert.ok((await listed(['--status', 'open', '--target', target])).includes(workflowId)),
    );
    assert.ok((await listed(['--runbook', 'p0', '--severity', 'P0'])).includes(workflowId));
    assert.ok(!(await listed(['--severity', 'P3', '--target', target])).includes(workflowId));
    assert.ok(!(await listed(['--runbook', 'oom-triage', '--target', target])).includes(workflowId));
    const table = await cli(['incidents', '--target', target]);
    assert.match(table.stdout, /STARTED\s+SEVERITY\s+STATUS/);
    assert.match(table.stdout, new RegExp(`P0\\s+mitigated\\s+p0-response\\s+${target}`));

    const status = await cli(['status', workflowId]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /status:\s+mitigated/);
    assert.match(status.stdout, /Restart requested/);
    // The incident id works as well as the workflow id.
    const byIncident = await cli(['status', started.incidentId, '--json']);
    assert.equal(byIncident.code, 0, byIncident.stderr);
    assert.equal((JSON.parse(byIncident.stdout) as IncidentRecord).id, started.incidentId);

    const ack = await cli(['ack', workflowId, '--note', 'looking'], { user: 'dave' });
    assert.equal(ack.code, 0, ack.stderr);
    assert.match(ack.stdout, /Acknowledged INC-\S+ \(by dave at /);

    const resolve = await cli(['resolve', workflowId, '--note', 'fixed']);
    assert.equal(resolve.code, 0, resolve.stderr);
    const record = (await client.workflow.getHandle(workflowId).result()) as IncidentRecord;
    assert.equal(record.status, 'resolved');
    assert.equal(record.acknowledgedBy?.id, 'cli:dave');

    const closedStatus = await cli(['status', workflowId]);
    assert.match(closedStatus.stdout, /status:\s+resolved/);
    const resolveAgain = await cli(['resolve', workflowId]);
    assert.equal(resolveAgain.code, 1);
    assert.match(resolveAgain.stderr, /already closed/);
    const ackClosed = await cli(['ack', workflowId]);
    assert.equal(ackClosed.code, 1);
    assert.match(ackClosed.stderr, /already closed \(completed\)/);

    const out = path.join(workDir, 'pm', 'p0.json');
    const exported = await cli(['postmortem', workflowId, '--format', 'json', '--out', out]);
    assert.equal(exported.code, 0, exported.stderr);
    const postmortem = JSON.parse(await readFile(out, 'utf8')) as {
      schemaVersion: number;
      summary: { status: string };
    };
    assert.equal(postmortem.schemaVersion, 1);
    assert.equal(postmortem.summary.status, 'resolved');
    const markdown = await cli(['postmortem', started.incidentId]);
    assert.equal(markdown.code, 0, markdown.stderr);
    assert.match(markdown.stdout, /^# Postmortem: P0 incident response/);
    assert.match(markdown.stdout, /Acknowledged by dave \(cli:dave\): looking/);
  });

  test('run rollback → stops at the gate with how to approve; four-eyes refusal; approval; closed gate', async () => {
    const target = `shop/${unique('cart')}`;
    const run = await cli(['run', 'rollback', '--target', target, '--interval', '200ms'], { user: 'carol' });
    assert.equal(run.code, 0, run.stderr);
    const workflowId = `incident:emergency-rollback:${target}`;
    assert.match(run.stdout, /Started INC-\S+-rollback-/);
    assert.match(run.stdout, /→ step: history/);
    assert.match(run.stdout, /Waiting for approval of gate confirm-rollback/);
    assert.ok(run.stdout.includes(`firebreak approve ${workflowId} --gate confirm-rollback --choice <2|1>`));

    const self = await cli(['approve', workflowId, '--choice', '2'], { user: 'carol' });
    assert.equal(self.code, 1);
    assert.match(self.stderr, /refused: .*SELF_APPROVAL/);
    const unknownGate = await cli(['reject', workflowId, '--gate', 'launch'], { user: 'dave' });
    assert.equal(unknownGate.code, 1);
    assert.match(unknownGate.stderr, /UNKNOWN_GATE/);

    const approve = await cli(['approve', workflowId, '--gate', 'confirm-rollback', '--choice', '2', '--json'], {
      user: 'dave',
    });
    assert.equal(approve.code, 0, approve.stderr);
    const gate = JSON.parse(approve.stdout) as { status: string; choice: string; decidedBy: { id: string } };
    assert.deepEqual([gate.status, gate.choice, gate.decidedBy.id], ['approved', '2', 'cli:dave']);
    const twice = await cli(['reject', workflowId, '--gate', 'confirm-rollback'], { user: 'erin' });
    assert.equal(twice.code, 1);
    assert.match(twice.stderr, /GATE_CLOSED/);

    const handle = client.workflow.getHandle(workflowId);
    await eventually(async () => assert.equal((await handle.query(statusQuery)).status, 'mitigated'));
    assert.equal((await cli(['resolve', workflowId])).code, 0);
    await handle.result();
  });

  test('an incident id is found through the FirebreakIncidentId search attribute', async () => {
    const prepared = prepareIncident({
      runbook: 'p0-response',
      targets: [{ namespace: 'shop', deployment: unique('ledger') }],
      params: {},
      trigger: { kind: 'cli', user: 'cli:carol' },
      policy: DEFAULT_POLICY,
    });
    // An id the start-time fallback cannot parse: only the search attribute can find it.
    const incidentId = `INC-${unique('custom')}`;
    const handle = await client.workflow.start(prepared.workflowType, {
      taskQueue: worker.taskQueue,
      workflowId: prepared.workflowId,
      args: [{ ...prepared.input, incidentId }],
      typedSearchAttributes: [...prepared.searchAttributes, { key: incidentIdKey, value: incidentId }],
    });
    try {
      await eventually(async () => {
        const { code, stdout, stderr } = await cli(['status', incidentId, '--json']);
        assert.equal(code, 0, stderr);
        assert.equal((JSON.parse(stdout) as IncidentRecord).id, incidentId);
      });
    } finally {
      await handle.terminate('test done');
    }
  });

  test('bad ids: exit 1 with a hint', async () => {
    for (const args of [
      ['status', 'incident:p0-response:shop/never-was'],
      ['ack', 'incident:p0-response:shop/never-was'],
      ['approve', 'INC-20990101-000000-p0-nothing'],
      ['postmortem', 'alert:alertmanager:0000000000000000'],
      ['resolve', 'INC-not-an-id'],
    ]) {
      const { code, stderr } = await cli(args);
      assert.equal(code, 1, `${args.join(' ')}: ${stderr}`);
      assert.match(stderr, /no incident .* list incidents with `firebreak incidents`/);
    }
  });

  test('no worker answers: run says so, and Ctrl-C leaves the incident running', async () => {
    const target = `shop/${unique('search')}`;
    const interrupt = new AbortController();
    const running = cli(['run', 'p0', '--target', target, '--interval', '200ms'], {
      env: { FIREBREAK_TASK_QUEUE: uniqueTaskQueue('nobody') },
      interrupt: interrupt.signal,
    });
    setTimeout(() => interrupt.abort(), 1_500);
    const { code, stdout } = await running;
    assert.equal(code, 0);
    assert.match(stdout, /no answer from a worker yet/);
    assert.match(stdout, /Stopped following; the incident keeps running/);
    const handle = client.workflow.getHandle(`incident:p0-response:${target}`);
    assert.equal((await handle.describe()).status.name, 'RUNNING');
    // Without a worker nobody answers the query, and the history holds no record yet: say so.
    const status = await cli(['status', handle.workflowId], { env: { FIREBREAK_TASK_QUEUE: 'nobody' } });
    assert.equal(status.code, 1);
    assert.match(status.stderr, /has no incident record yet/);
    await handle.terminate('test done');
  });
});

/** Retries an assertion for a few seconds (visibility and progress are eventually consistent). */
async function eventually(check: () => Promise<void>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

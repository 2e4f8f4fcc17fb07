/**
 * `firebreak start` as a user runs it: the real CLI entry point, its own embedded dev server on a
 * fresh data dir, /healthz, the Web UI, Ctrl-C leaving nothing behind, and a second start finding
 * the first one's incidents in the same database.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { freePort } from './bed/ports';

const execFileAsync = promisify(execFile);
const BIN = path.resolve('bin/firebreak.mjs');
const dataDir = await mkdtemp(path.join(tmpdir(), 'firebreak-start-'));
after(() => rm(dataDir, { recursive: true, force: true }));

interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function startCli(env: Record<string, string>): Started {
  let output = '';
  const child = spawn(process.execPath, [BIN, 'start'], {
    env: { ...process.env, TEMPORAL_ADDRESS: '', KUBECONFIG: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function waitForHealthy(url: string, started: Started, timeoutMs = 90_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (started.child.exitCode !== null) throw new Error(`firebreak start exited early:\n${started.output()}`);
    try {
      const response = await fetch(`${url}/healthz`);
      if (response.status === 200) return (await response.json()) as Record<string, unknown>;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`not healthy within ${timeoutMs} ms:\n${started.output()}`);
}

async function processesUsing(dir: string): Promise<string[]> {
  try {
    const { stdout } = await execFileAsync('pgrep', ['-af', dir]);
    return stdout.split('\n').filter((line) => line.trim() && !line.includes('pgrep'));
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

test('firebreak start runs Temporal, worker and ingress; Ctrl-C stops all; a restart keeps incidents', async () => {
  const [port, temporalPort] = [await freePort(), await freePort()];
  const env = {
    FIREBREAK_PORT: String(port),
    FIREBREAK_TEMPORAL_PORT: String(temporalPort),
    FIREBREAK_DATA_DIR: dataDir,
    ...(process.env.FIREBREAK_TEST_WORKFLOW_BUNDLE
      ? { FIREBREAK_WORKFLOW_BUNDLE: process.env.FIREBREAK_TEST_WORKFLOW_BUNDLE }
      : {}),
  };
  const url = `http://127.0.0.1:${port}`;

  const first = startCli(env);
  const health = await waitForHealthy(url, first);
  assert.equal(health.ok, true);
  // Defaults page nobody: tiers mention no one, no Slack token, no PagerDuty key.
  assert.equal(health.status, 'degraded');
  assert.match(String(health.reason), /escalation chain reaches nobody.*PAGERDUTY_ROUTING_KEY is not set/);
  assert.match(first.output(), /Nobody will be paged/);
  assert.deepEqual((health.worker as { state: string }).state, 'RUNNING');
  assert.equal((health.temporal as { ok: boolean }).ok, true);
  const ui = await fetch(`http://127.0.0.1:${temporalPort + 1000}/`);
  assert.equal(ui.status, 200, 'the Temporal Web UI answers on the Temporal port + 1000');
  const metrics = await (await fetch(`${url}/metrics`)).text();
  assert.match(metrics, /firebreak_http_requests_total\{route="\/healthz",status="200"\} 1/);

  // Leave a workflow in the database (on a queue no worker polls, so it stays open).
  const connection = await Connection.connect({ address: `127.0.0.1:${temporalPort}` });
  const client = new Client({ connection });
  const workflowId = `persisted-${Date.now()}`;
  await client.workflow.start('smokeWorkflow', { taskQueue: 'nobody-polls-this', workflowId, args: ['x'] });
  await connection.close();

  first.child.kill('SIGINT');
  assert.equal(await first.exited, 0, `clean exit:\n${first.output()}`);
  assert.deepEqual(await processesUsing(dataDir), [], 'no process (dev server included) is left behind');

  const second = startCli(env);
  try {
    await waitForHealthy(url, second);
    const again = await Connection.connect({ address: `127.0.0.1:${temporalPort}` });
    const description = await new Client({ connection: again }).workflow.getHandle(workflowId).describe();
    assert.equal(description.status.name, 'RUNNING', 'the restart found the earlier workflow');
    await again.close();
  } finally {
    second.child.kill('SIGTERM');
    await second.exited;
  }
  assert.deepEqual(await processesUsing(dataDir), []);
});

test('a bad environment value names the variable and exits 2', async () => {
  const started = startCli({ FIREBREAK_PORT: 'abc', FIREBREAK_DATA_DIR: dataDir });
  assert.equal(await started.exited, 2);
  assert.match(started.output(), /FIREBREAK_PORT: must be a port number \(got "abc"\)/);
  assert.deepEqual(await processesUsing(dataDir), [], 'nothing was started');
});

test('a bad OTLP endpoint names the variable and exits 2, before anything starts', async () => {
  const started = startCli({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318', FIREBREAK_DATA_DIR: dataDir });
  assert.equal(await started.exited, 2);
  assert.match(
    started.output(),
    /OTEL_EXPORTER_OTLP_ENDPOINT: must be an (absolute )?http\(s\) URL \(got "collector:4318"\)/,
  );
  assert.deepEqual(await processesUsing(dataDir), [], 'nothing was started');
});

test('a bad config file names the offending key and exits 2', async () => {
  const { writeFile } = await import('node:fs/promises');
  const file = path.join(dataDir, 'bad.yaml');
  await writeFile(file, 'policy:\n  ackDeadline: { P0: soon }\n');
  const started = startCli({ FIREBREAK_CONFIG: file, FIREBREAK_DATA_DIR: dataDir });
  assert.equal(await started.exited, 2);
  assert.match(started.output(), /policy\.ackDeadline\.P0: not a duration/);
});

test('an unreadable TEMPORAL_TLS_CERT names the variable and exits 2, without a stack trace', async () => {
  const started = startCli({
    TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}`,
    TEMPORAL_TLS_CERT: path.join(dataDir, 'missing-cert.pem'),
    TEMPORAL_TLS_KEY: path.join(dataDir, 'missing-key.pem'),
    FIREBREAK_DATA_DIR: dataDir,
  });
  assert.equal(await started.exited, 2, started.output());
  assert.match(started.output(), /TEMPORAL_TLS_CERT: cannot read .*missing-cert\.pem \(ENOENT\)/);
  assert.doesNotMatch(started.output(), /^\s+at /m, 'no stack trace');
});

test('an unreachable Temporal cluster is a one-line reason and exit 1, without a stack trace', async () => {
  const started = startCli({ TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}`, FIREBREAK_DATA_DIR: dataDir });
  assert.equal(await started.exited, 1, started.output());
  assert.match(started.output(), /^firebreak start: .+/m);
  assert.doesNotMatch(started.output(), /^\s+at /m, 'no stack trace');
});

/**
 * `firebreak start` supervises what it starts (issue 20): the embedded Temporal dev server SIGKILLed
 * under an alert burst is started again on the same SQLite file and ports, says so in the log and on
 * /healthz, and every notification answered 2xx is in its incident's history; past the restart bound,
 * and with a cluster gone for good, the process exits 1 for its own supervisor to restart it.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { alertWorkflowId } from '../common/ids';
import { startDevServer } from '../worker/devserver';
import { alertmanagerPayload, oomAlert, oomRoutesYaml, signalEvents } from './alerts-support';
import { freePort } from './bed/ports';
import {
  devServerPid,
  exitWithin,
  health,
  processesUsing,
  startCli,
  waitForHealthy,
  type StartedCli,
} from './start-support';

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

const TOKEN = 'supervision-token';
const RECEIVER = 'firebreak\\.supervision';

async function setUp(name: string, extra: Record<string, string> = {}) {
  const dataDir = await mkdtemp(path.join(tmpdir(), `firebreak-${name}-`));
  dirs.push(dataDir);
  const sink = `${name}-${Date.now()}`;
  const configFile = path.join(dataDir, 'firebreak.yaml');
  await writeFile(configFile, oomRoutesYaml(sink));
  const [port, temporalPort] = [await freePort(), await freePort()];
  const started = startCli({
    FIREBREAK_PORT: String(port),
    FIREBREAK_TEMPORAL_PORT: String(temporalPort),
    FIREBREAK_DATA_DIR: dataDir,
    FIREBREAK_CONFIG: configFile,
    FIREBREAK_WEBHOOK_TOKEN: TOKEN,
    ...extra,
  });
  return { dataDir, sink, url: `http://127.0.0.1:${port}`, temporalPort, started };
}

async function stopCli(started: StartedCli): Promise<void> {
  if (started.child.exitCode !== null || started.child.signalCode !== null) return;
  started.child.kill('SIGTERM');
  await started.exited;
}

test('the embedded server SIGKILLed under an alert burst is restarted on the same data; every 2xx is recorded', async (t) => {
  const { dataDir, sink, url, temporalPort, started } = await setUp('supervised');
  t.after(() => stopCli(started));
  const first = await waitForHealthy(url, started);
  assert.equal(first.temporal.state, 'running');
  assert.equal(first.temporal.restarts, 0);
  const killedPid = await devServerPid(dataDir);

  const NOTIFICATIONS = 240;
  const GROUPS = 4;
  const CONCURRENCY = 8;
  const KILL_AFTER = 60;
  const groupKey = (g: number) => `{}:{alertname="ContainerOOMKilled", sink="${sink}", group="${g}"}`;
  // One fingerprint per notification: "recorded" is then exact per notification.
  const bodies = Array.from({ length: NOTIFICATIONS }, (_, i) =>
    JSON.stringify(
      alertmanagerPayload({
        receiver: RECEIVER,
        groupKey: groupKey(i % GROUPS),
        alerts: [oomAlert(sink, `n${i}`, { deployment: `api-${i % GROUPS}`, pod: `api-${i % GROUPS}-${i}` })],
      }),
    ),
  );
  const post = async (i: number): Promise<number> => {
    try {
      const response = await fetch(`${url}/webhooks/alertmanager`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
        body: bodies[i],
        // Alertmanager's own webhook timeout is 10 s by default.
        signal: AbortSignal.timeout(10_000),
      });
      await response.arrayBuffer();
      return response.status;
    } catch {
      return 0;
    }
  };

  // /healthz watched all along: it must say what is happening while the server is away.
  const states = new Set<string>();
  const samples: string[] = [];
  let healthyAgainAt: number | undefined;
  let killedAt: number | undefined;
  // A request every 100 ms, not one after the other: one check that waits out the restart must
  // not hide the window in which /healthz answers `restarting` at once.
  const asking = new Set<Promise<void>>();
  const watcher = setInterval(() => {
    const asked = Date.now();
    const probe = health(url).then((answer) => {
      if (answer.body?.temporal.state) states.add(`${answer.status}:${answer.body.temporal.state}`);
      if (killedAt && asked > killedAt && samples.length < 60) {
        samples.push(`${asked - killedAt}+${Date.now() - asked}ms:${answer.status}:${answer.body?.temporal.state}`);
      }
      // Healthy again: the first 200 to a request asked after the kill.
      if (killedAt && asked > killedAt && answer.status === 200)
        healthyAgainAt = Math.min(healthyAgainAt ?? Infinity, Date.now());
    });
    asking.add(probe);
    void probe.finally(() => asking.delete(probe));
  }, 100);

  const answered = new Array<number>(NOTIFICATIONS).fill(0);
  const answeredAt = new Array<number>(NOTIFICATIONS).fill(0);
  const sentAt = new Array<number>(NOTIFICATIONS).fill(0);
  const firstStatus = new Array<number>(NOTIFICATIONS).fill(0);
  let next = 0;
  let done = 0;
  const sender = async () => {
    while (next < NOTIFICATIONS) {
      const i = next++;
      sentAt[i] = Date.now();
      answered[i] = await post(i);
      firstStatus[i] = answered[i]!;
      answeredAt[i] = Date.now();
      done += 1;
      if (done === KILL_AFTER && !killedAt) {
        killedAt = Date.now();
        process.kill(killedPid, 'SIGKILL');
        t.diagnostic(`dev server ${killedPid} SIGKILLed after ${done} answers`);
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, sender));
  assert.ok(killedAt, 'the server was killed during the burst');
  // What Alertmanager does with a non-2xx answer: send the notification again.
  for (let round = 0; round < 5 && answered.some((s) => s < 200 || s >= 300); round++) {
    for (const [i, status] of answered.entries()) if (status < 200 || status >= 300) answered[i] = await post(i);
  }
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  clearInterval(watcher);
  await Promise.all(asking);

  // Sent after the kill: only a server that is back can have answered it 2xx.
  const firstAfterKill = Math.min(
    ...answeredAt.filter((_at, i) => sentAt[i]! > killedAt! && firstStatus[i]! >= 200 && firstStatus[i]! < 300),
  );
  const webhookRecovery = (firstAfterKill - killedAt) / 1000;
  const healthRecovery = ((healthyAgainAt ?? Infinity) - killedAt) / 1000;
  const statusCounts: Record<string, number> = {};
  for (const status of firstStatus) statusCounts[status] = (statusCounts[status] ?? 0) + 1;
  const figures = `recovery after kill -9: first 2xx webhook answer ${webhookRecovery.toFixed(1)} s, /healthz 200 ${healthRecovery.toFixed(1)} s; first answers ${JSON.stringify(statusCounts)} of ${NOTIFICATIONS}; /healthz seen ${[...states].join(', ')}`;
  t.diagnostic(figures);
  console.log(`[start-supervision] ${figures}`);

  t.diagnostic(`healthz samples after the kill: ${samples.join(' ')}`);
  t.diagnostic(
    started
      .output()
      .split('\n')
      .filter((line) => /devserver-supervisor/.test(line))
      .join('\n'),
  );
  assert.ok(webhookRecovery <= 15, `webhooks answered 2xx again within 15 s (${webhookRecovery} s)`);
  assert.ok(healthRecovery <= 15, `/healthz 200 again within 15 s (${healthRecovery} s)`);
  assert.ok(states.has('503:restarting'), `/healthz said restarting while the server was away: ${[...states]}`);
  const now = await health(url);
  assert.equal(now.status, 200);
  assert.equal(now.body?.temporal.state, 'running');
  assert.equal(now.body?.temporal.restarts, 1);
  assert.equal(now.body?.temporal.lastExit, 'killed by SIGKILL');
  assert.match(started.output(), /The embedded Temporal server stopped on its own \(killed by SIGKILL\)/);
  assert.match(started.output(), /The embedded Temporal server is back at 127\.0\.0\.1:\d+ after \d+ ms \(restart 1\)/);
  const newPid = await devServerPid(dataDir);
  assert.notEqual(newPid, killedPid, 'a new server process');
  assert.ok(started.child.exitCode === null, 'firebreak start itself stayed up');
  assert.ok(
    answered.every((s) => s >= 200 && s < 300),
    'every notification was eventually answered 2xx',
  );

  // Every notification answered 2xx is in its incident's history (any run of the group's incident).
  const connection = await Connection.connect({ address: `127.0.0.1:${temporalPort}` });
  try {
    const client = new Client({ connection });
    const recorded = new Set<string>();
    for (let g = 0; g < GROUPS; g++) {
      const id = alertWorkflowId('alertmanager', RECEIVER.replace('\\', ''), groupKey(g));
      for await (const run of client.workflow.list({ query: `WorkflowId = '${id}'` })) {
        for (const event of await signalEvents(client.workflow.getHandle(id, run.runId))) {
          for (const alert of event.notification.alerts) recorded.add(alert.fingerprint);
        }
      }
    }
    const missing = bodies.map((_b, i) => `n${i}`).filter((f) => !recorded.has(f));
    assert.deepEqual(missing, [], `every notification answered 2xx is recorded (${recorded.size} recorded)`);
  } finally {
    await connection.close();
  }
});

test('past the restart bound, firebreak start exits 1 and leaves no process behind', async (t) => {
  const { dataDir, url, started } = await setUp('bound', { FIREBREAK_TEMPORAL_MAX_RESTARTS: '1' });
  t.after(() => stopCli(started));
  await waitForHealthy(url, started);
  process.kill(await devServerPid(dataDir), 'SIGKILL');
  const startedAgain = Date.now();
  let back = await health(url);
  while (!(back.status === 200 && back.body?.temporal.restarts === 1) && Date.now() - startedAgain < 30_000) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    back = await health(url);
  }
  assert.equal(back.status, 200, `back after the first kill:\n${started.output()}`);
  process.kill(await devServerPid(dataDir), 'SIGKILL');
  const code = await exitWithin(started, 40_000);
  assert.equal(code, 1, started.output());
  assert.match(started.output(), /the embedded Temporal server stopped 2 times within 600 s \(bound: 1 restarts/);
  assert.deepEqual(await processesUsing(dataDir), [], 'no process is left behind');
});

test('a worker whose cluster is gone for good exits 1 after FIREBREAK_TEMPORAL_LOST_SECONDS', async (t) => {
  const serverDir = await mkdtemp(path.join(tmpdir(), 'firebreak-lost-server-'));
  dirs.push(serverDir);
  const server = await startDevServer({
    dataDir: serverDir,
    port: await freePort(),
    uiPort: await freePort(),
    log: () => undefined,
  });
  t.after(() => server.stop());
  const { url, started } = await setUp('lost', {
    TEMPORAL_ADDRESS: server.address,
    FIREBREAK_TEMPORAL_LOST_SECONDS: '5',
  });
  t.after(() => stopCli(started));
  const healthy = await waitForHealthy(url, started);
  assert.equal(healthy.temporal.state, undefined, 'an external cluster is not supervised');
  server.process.kill('SIGKILL');
  const killedAt = Date.now();
  const code = await exitWithin(started, 45_000);
  t.diagnostic(`exited ${code} ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the cluster went away`);
  t.diagnostic(started.output().split('\n').slice(-6).join('\n'));
  assert.equal(code, 1, started.output());
  assert.match(started.output(), /the worker could not reach Temporal at 127\.0\.0\.1:\d+ for \d+ s/);
});

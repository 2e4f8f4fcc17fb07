/**
 * `firebreak start` runs the ingress on a thread of its own (ingress/thread.ts): a Slack
 * acknowledgement does not wait for the main thread, where the worker and its activities run.
 * The engine is started in this process as `firebreak start` starts it (startFirebreak: the real
 * worker, the real ingress thread) against the bed's Temporal; the test then blocks the main
 * thread synchronously — as an activity stuck in a CPU loop would — and sends a signed `/runbook`
 * from another thread. The acknowledgement comes back while the main thread is still blocked
 * (it could not, with the ingress on the main thread); once it is free, the start is reported
 * through response_url, /metrics counts the command and /healthz reports the worker.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { after, before, test } from 'node:test';
import type { Client, Connection } from '@temporalio/client';
import { startFirebreak, type RunningFirebreak } from '../worker/start';
import { createLogger } from '../config/logger';
import { freePort } from './bed/ports';
import { signSlackRequest, slashCommandBody, SlackStandIn } from './bed/slack-standin';
import { connectTestClient, testNamespace, testTemporalAddress, uniqueTaskQueue } from './bed/worker';

const SECRET = 'firebreak-thread-signing-secret';
const TOKEN = 'xoxb-firebreak-thread';
const CHANNEL = 'C0THREAD';
/** How long the main thread stays blocked at most, waiting for the acknowledgement. */
const BLOCK_AT_MOST_MS = 20_000;

let stand: SlackStandIn;
let engine: RunningFirebreak | undefined;
let dataDir: string;
let client: Client;
let connection: Connection;

before(async () => {
  stand = new SlackStandIn({ tokens: [TOKEN] });
  await stand.start();
  ({ client, connection } = await connectTestClient());
  dataDir = await mkdtemp(path.join(tmpdir(), 'firebreak-ingress-thread-'));
});

after(async () => {
  await engine?.stop();
  await connection?.close();
  await stand?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/**
 * Sends one request from a thread of its own once told to, and raises `flag` when the answer is
 * in: the main thread can wait for it without turning its event loop.
 */
function clientThread(flag: Int32Array) {
  const thread = new Worker(
    `
const { parentPort, workerData } = require('node:worker_threads');
const flag = new Int32Array(workerData.shared);
parentPort.once('message', async ({ url, headers, body }) => {
  try {
    const res = await fetch(url, { method: 'POST', headers, body });
    const text = await res.text();
    Atomics.store(flag, 0, 1);
    parentPort.postMessage({ status: res.status, text, at: Date.now() });
  } catch (err) {
    Atomics.store(flag, 0, 2);
    parentPort.postMessage({ error: String(err) });
  }
});
`,
    { eval: true, workerData: { shared: flag.buffer } },
  );
  const answer = new Promise<{ status?: number; text?: string; at?: number; error?: string }>((resolve, reject) => {
    thread.once('message', resolve);
    thread.once('error', reject);
  });
  return { thread, answer };
}

test('a /runbook is acknowledged while the main thread (the worker) is blocked; reported, counted and healthy after', async () => {
  const port = await freePort();
  const taskQueue = uniqueTaskQueue('ingress-thread');
  const lines: string[] = [];
  engine = await startFirebreak(
    {
      TEMPORAL_ADDRESS: testTemporalAddress(),
      TEMPORAL_NAMESPACE: testNamespace(),
      FIREBREAK_TASK_QUEUE: taskQueue,
      FIREBREAK_PORT: String(port),
      FIREBREAK_DATA_DIR: dataDir,
      SLACK_SIGNING_SECRET: SECRET,
      SLACK_BOT_TOKEN: TOKEN,
      SLACK_API_URL: stand.apiUrl,
      FIREBREAK_SLACK_CHANNEL: CHANNEL,
      KUBECONFIG: '',
      FIREBREAK_LOG_LEVEL: 'warn',
      ...(process.env.FIREBREAK_TEST_WORKFLOW_BUNDLE
        ? { FIREBREAK_WORKFLOW_BUNDLE: process.env.FIREBREAK_TEST_WORKFLOW_BUNDLE }
        : {}),
    },
    createLogger({ level: 'warn', destination: { write: (line: string) => lines.push(line) } }),
  );
  assert.equal(engine.url, `http://127.0.0.1:${port}`);

  const target = `thread-${Date.now().toString(36)}/api`;
  const responseUrl = stand.responseUrl();
  const responseId = responseUrl.split('/').pop()!;
  const body = slashCommandBody({
    command: '/runbook',
    text: `p0 ${target}`,
    userId: 'U0THREAD',
    userName: 'thread',
    channelId: CHANNEL,
    responseUrl,
  });
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const { thread, answer } = clientThread(flag);
  try {
    thread.postMessage({ url: `${engine.url}/slack/commands`, headers: signSlackRequest(SECRET, body), body });
    // The main thread — the worker's — blocked synchronously until the answer is in (or at most 20 s).
    const blockedAt = Date.now();
    while (Atomics.load(flag, 0) === 0 && Date.now() - blockedAt < BLOCK_AT_MOST_MS) {
      // busy: no event loop turn on this thread
    }
    const blockEnded = Date.now();
    const flagAtBlockEnd = Atomics.load(flag, 0);
    const ack = await answer;
    assert.equal(ack.error, undefined, ack.error);
    assert.equal(flagAtBlockEnd, 1, 'the acknowledgement arrived while the main thread was blocked');
    assert.ok(ack.at! <= blockEnded, `acknowledged at ${ack.at}, block ended at ${blockEnded}`);
    assert.equal(ack.status, 200, ack.text);
    assert.match(JSON.parse(ack.text!).text, /Starting \*P0 incident response\* on `thread-[a-z0-9]+\/api`/);
  } finally {
    await thread.terminate();
  }

  // The main thread free again: the start is reported through response_url, as before.
  const deadline = Date.now() + 60_000;
  let report: (typeof stand.responses)[number] | undefined;
  while (!report && Date.now() < deadline) {
    report = stand.responses.find((r) => r.id === responseId);
    if (!report) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.ok(report, 'the start was reported through response_url');
  assert.equal(report.body.response_type, 'in_channel', JSON.stringify(report.body));
  assert.match(String(report.body.text), /started \*P0 incident response\*/);

  // The ingress's counters land in the one registry the main thread serves.
  const metrics = await (await fetch(`${engine.url}/metrics`)).text();
  assert.match(metrics, /firebreak_slack_requests_total\{outcome="runbook",route="commands"\} 1/);
  assert.match(metrics, /firebreak_http_requests_total\{route="\/slack\/commands",status="200"\} 1/);
  assert.match(metrics, /process_cpu_seconds_total/);
  // /healthz is answered by the ingress thread from the main thread's report.
  const health = (await (await fetch(`${engine.url}/healthz`)).json()) as { worker: { state: string } };
  assert.equal(health.worker.state, 'RUNNING');

  await client.workflow
    .getHandle(`incident:p0-response:${target}`)
    .terminate('test over')
    .catch(() => undefined);
  // Stops in order and ends: the thread closes the ingress, the worker drains.
  await engine.stop();
  await engine.done;
  engine = undefined;
  const refused = await fetch(`http://127.0.0.1:${port}/healthz`).then(
    () => 'answered',
    () => 'refused',
  );
  assert.equal(refused, 'refused', 'nothing listens after stop');
  assert.deepEqual(await readdir(path.join(dataDir, 'slack-commands')), [], 'no command left pending');
});

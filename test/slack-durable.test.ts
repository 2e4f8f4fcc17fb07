/**
 * `/runbook` commands are acknowledged before Temporal has the incident, and none acknowledged as
 * starting is lost: the real Slack ingress in a process of its own (test/bed/slack-ingress-process.ts)
 * killed with SIGKILL between the acknowledgement and the start, and between the start and the
 * report; the next process on the same data directory starts (or recognises) the incident and
 * reports it through the command's response_url. Also: a command too old to start unasked, and a
 * start Temporal refuses, each reported through response_url. Real dev server, real workflows,
 * the loopback Slack stand-in.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { Client, WorkflowNotFoundError, type Connection } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { incidentIdKey } from '../common/search-attributes';
import type { SlackIngressContext } from '../ingress/slack/context';
import { PendingCommandJournal } from '../ingress/slack/pending';
import { RECOVERY_WINDOW_MS } from '../ingress/slack/starts';
import { signSlackRequest, slashCommandBody, type SlackStandIn, type ResponseUrlPost } from './bed/slack-standin';
import { testTemporalAddress, uniqueTaskQueue, type TestWorker } from './bed/worker';
import { buildSlackApp, startSlackBed, stopSlackBed } from './slack-support';
import { fastPolicy, uniqueTarget } from './workflows/harness';

const SECRET = 'firebreak-durable-signing-secret';
const TOKEN = 'xoxb-firebreak-durable';
const CHANNEL = 'C0DURABLE';
const INGRESS = fileURLToPath(new URL('./bed/slack-ingress-process.ts', import.meta.url));

let stand: SlackStandIn;
let client: Client;
let connection: Connection;
let worker: TestWorker;
let workDir: string;
const children = new Set<ChildProcess>();

before(async () => {
  ({ stand, client, connection, worker } = await startSlackBed({
    token: TOKEN,
    channel: CHANNEL,
    taskQueue: uniqueTaskQueue('slack-durable'),
  }));
  workDir = await mkdtemp(path.join(tmpdir(), 'firebreak-slack-durable-'));
});

after(async () => {
  for (const child of children) child.kill('SIGKILL');
  await stopSlackBed({ worker, connection, stand });
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

// ---- helpers ---------------------------------------------------------------------------------

/** A TCP relay to Temporal that can stop passing the client's bytes on: Temporal as slow as it gets. */
class StallableRelay {
  private server?: Server;
  private stalled = false;
  private readonly held: Array<{ to: Socket; data: Buffer }> = [];
  private readonly sockets = new Set<Socket>();

  async start(target: string): Promise<string> {
    const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
    this.server = createServer((inbound) => {
      const outbound = connect(port, host);
      for (const socket of [inbound, outbound]) {
        this.sockets.add(socket);
        socket.on('error', () => undefined);
        socket.on('close', () => this.sockets.delete(socket));
      }
      inbound.on('data', (data) => (this.stalled ? this.held.push({ to: outbound, data }) : outbound.write(data)));
      outbound.on('data', (data) => inbound.write(data));
      inbound.on('close', () => outbound.destroy());
      outbound.on('close', () => inbound.destroy());
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    return `127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  }

  stall(): void {
    this.stalled = true;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}

interface Ingress {
  port: number;
  child: ChildProcess;
}

async function startIngress(dataDir: string, temporalAddress: string): Promise<Ingress> {
  const child = spawn(process.execPath, ['--import', 'tsx', INGRESS], {
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: temporalAddress,
      TEMPORAL_NAMESPACE: process.env.FIREBREAK_TEST_TEMPORAL_NAMESPACE ?? 'default',
      SLACK_SIGNING_SECRET: SECRET,
      SLACK_BOT_TOKEN: TOKEN,
      SLACK_API_URL: stand.apiUrl,
      FIREBREAK_TASK_QUEUE: worker.taskQueue,
      FIREBREAK_DATA_DIR: dataDir,
      FIREBREAK_LOG_LEVEL: 'error',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.add(child);
  child.on('exit', () => children.delete(child));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`the ingress did not start: ${out}`)), 60_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /listening (\d+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.once('exit', (code) => reject(new Error(`the ingress exited ${code} before listening: ${out}`)));
  });
  return { port, child };
}

async function kill(ingress: Ingress): Promise<void> {
  const exited = new Promise((resolve) => ingress.child.once('exit', resolve));
  ingress.child.kill('SIGKILL');
  await exited;
}

async function runbookCommand(port: number, text: string) {
  const responseUrl = stand.responseUrl();
  const body = slashCommandBody({
    command: '/runbook',
    text,
    userId: 'U0DURABLE',
    userName: 'dana',
    channelId: CHANNEL,
    responseUrl,
  });
  const res = await fetch(`http://127.0.0.1:${port}/slack/commands`, {
    method: 'POST',
    headers: signSlackRequest(SECRET, body),
    body,
  });
  return {
    status: res.status,
    answer: (await res.json()) as { text: string },
    responseId: responseUrl.split('/').pop()!,
  };
}

async function waitFor<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const responsesTo = (id: string): ResponseUrlPost[] => stand.responses.filter((r) => r.id === id);

async function runningIncidentId(workflowId: string): Promise<string | undefined> {
  try {
    const description = await client.workflow.getHandle(workflowId).describe();
    return description.typedSearchAttributes.get(incidentIdKey);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

async function executionsOf(workflowId: string): Promise<number> {
  let count = 0;
  for await (const _ of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) count++;
  return count;
}

// ---- tests -----------------------------------------------------------------------------------

describe('a /runbook command acknowledged as starting is never lost', () => {
  test('killed between the acknowledgement and the start: the next ingress starts it and reports it', async () => {
    const dataDir = path.join(workDir, 'between-ack-and-start');
    const relay = new StallableRelay();
    const through = await relay.start(testTemporalAddress());
    try {
      const first = await startIngress(dataDir, through);
      const target = uniqueTarget('checkout');
      const workflowId = `incident:p0-response:${target.namespace}/${target.deployment}`;
      relay.stall(); // Temporal answers nothing from here on: the start cannot complete.
      const { status, answer, responseId } = await runbookCommand(
        first.port,
        `p0 ${target.namespace}/${target.deployment}`,
      );
      assert.equal(status, 200);
      assert.match(answer.text, /Starting \*P0 incident response\*/);
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal(await runningIncidentId(workflowId), undefined, 'the start had not reached Temporal');
      await kill(first);
      assert.equal((await readdir(path.join(dataDir, 'slack-commands'))).length, 1, 'the command is on disk');
      assert.equal(responsesTo(responseId).length, 0, 'nobody was told anything yet');

      const second = await startIngress(dataDir, testTemporalAddress());
      const [report] = await waitFor('the report', () => {
        const posts = responsesTo(responseId);
        return posts.length ? posts : undefined;
      });
      assert.equal(report!.body.response_type, 'in_channel');
      assert.match(String(report!.body.text), /started \*P0 incident response\* on .* \(after Firebreak restarted\)/);
      const incidentId = /incident .*?(INC-[\w-]+)/.exec(String(report!.body.text))?.[1];
      assert.ok(incidentId, String(report!.body.text));
      assert.equal(await runningIncidentId(workflowId), incidentId, 'the reported incident is the one running');
      await waitFor('the pending entry to go', async () =>
        (await readdir(path.join(dataDir, 'slack-commands'))).length === 0 ? true : undefined,
      );
      assert.equal(responsesTo(responseId).length, 1, 'reported once');
      await kill(second);
      await client.workflow.getHandle(workflowId).terminate('test over');
    } finally {
      await relay.stop();
    }
  });

  test('killed between the start and the report: the next ingress recognises its own start, nothing twice', async () => {
    const dataDir = path.join(workDir, 'between-start-and-report');
    const first = await startIngress(dataDir, testTemporalAddress());
    const target = uniqueTarget('cart');
    const workflowId = `incident:p0-response:${target.namespace}/${target.deployment}`;
    const release = stand.holdResponseUrls(); // Slack hangs: the report cannot be delivered.
    let responseId: string;
    try {
      const sent = await runbookCommand(first.port, `p0 ${target.namespace}/${target.deployment}`);
      assert.equal(sent.status, 200);
      responseId = sent.responseId;
      const startedAs = await waitFor('the start', () => runningIncidentId(workflowId));
      await kill(first);
      release();

      const second = await startIngress(dataDir, testTemporalAddress());
      const [report] = await waitFor('the report', () => {
        const posts = responsesTo(responseId);
        return posts.length ? posts : undefined;
      });
      assert.equal(report!.body.response_type, 'in_channel', 'reported as started, not as "already open"');
      assert.match(String(report!.body.text), new RegExp(`incident .*${startedAs}.* \\(workflow`));
      assert.equal(await executionsOf(workflowId), 1, 'one execution: the start was not repeated');
      await kill(second);
      await client.workflow.getHandle(workflowId).terminate('test over');
    } finally {
      release();
    }
  });
});

describe('outcomes reported through response_url (in-process ingress)', () => {
  let app: FastifyInstance | undefined;
  let ctx: SlackIngressContext | undefined;

  async function inProcess(pendingDir: string, temporal: Client) {
    app = await buildSlackApp(
      { stand, client, worker, token: TOKEN },
      {
        client: temporal,
        env: { SLACK_SIGNING_SECRET: SECRET, TEMPORAL_NAMESPACE: temporal.options.namespace },
        policy: fastPolicy({}),
        routes: { pendingDir, onContext: (c) => (ctx = c) },
      },
    );
    await app.ready();
    return app;
  }

  after(async () => {
    await app?.close();
  });

  test('a command older than the recovery window is explained, not started', async () => {
    const pendingDir = path.join(workDir, 'too-old');
    const target = uniqueTarget('search');
    const responseUrl = stand.responseUrl();
    const receivedAt = Date.now() - RECOVERY_WINDOW_MS - 60_000;
    await new PendingCommandJournal(pendingDir, () => undefined).record({
      id: PendingCommandJournal.newId(receivedAt),
      receivedAt,
      taskQueue: worker.taskQueue,
      namespace: client.options.namespace,
      command: '/runbook',
      text: `p0 ${target.namespace}/${target.deployment}`,
      userId: 'U0DURABLE',
      channelId: CHANNEL,
      responseUrl,
    });
    await inProcess(pendingDir, client);
    const responseId = responseUrl.split('/').pop()!;
    const [report] = await waitFor('the report', () => {
      const posts = responsesTo(responseId);
      return posts.length ? posts : undefined;
    });
    assert.equal(report!.body.response_type, 'ephemeral');
    assert.match(String(report!.body.text), /restarted before it could start .* nothing was started/);
    assert.equal(await runningIncidentId(`incident:p0-response:${target.namespace}/${target.deployment}`), undefined);
    await ctx!.drain();
    assert.deepEqual(await readdir(pendingDir), []);
    await app!.close();
    app = undefined;
  });

  test('a start Temporal refuses is reported as not started, and nothing is left pending', async () => {
    const pendingDir = path.join(workDir, 'refused');
    const missing = new Client({ connection, namespace: `firebreak-no-such-namespace-${Date.now()}` });
    await inProcess(pendingDir, missing);
    const target = uniqueTarget('payments');
    const responseUrl = stand.responseUrl();
    const body = slashCommandBody({
      command: '/runbook',
      text: `p0 ${target.namespace}/${target.deployment}`,
      userId: 'U0DURABLE',
      userName: 'dana',
      channelId: CHANNEL,
      responseUrl,
    });
    const res = await app!.inject({
      method: 'POST',
      url: '/slack/commands',
      headers: signSlackRequest(SECRET, body),
      payload: body,
    });
    assert.equal(res.statusCode, 200);
    assert.match(res.json<{ text: string }>().text, /Starting/);
    const responseId = responseUrl.split('/').pop()!;
    const [report] = await waitFor('the report', () => {
      const posts = responsesTo(responseId);
      return posts.length ? posts : undefined;
    });
    assert.equal(report!.body.response_type, 'ephemeral');
    assert.match(String(report!.body.text), /:x: Could not start \*?P0 incident response\*? .*Temporal did not accept/);
    await ctx!.drain();
    assert.deepEqual(await readdir(pendingDir), []);
  });
});

describe('the Slack stand-in takes response_url posts as Slack documents them', () => {
  test('JSON with text or blocks, five times at most; anything else refused', async () => {
    const url = stand.responseUrl();
    const post = (body: string, type = 'application/json') =>
      fetch(url, { method: 'POST', headers: { 'content-type': type }, body }).then(async (r) => [
        r.status,
        await r.text(),
      ]);
    assert.deepEqual(await post('text=hi', 'application/x-www-form-urlencoded'), [400, 'invalid_payload']);
    assert.deepEqual(await post('{"response_type":"ephemeral"}'), [400, 'no_text']);
    for (let i = 0; i < 5; i++) assert.deepEqual(await post(JSON.stringify({ text: `post ${i}` })), [200, 'ok']);
    assert.deepEqual(await post(JSON.stringify({ text: 'sixth' })), [404, 'expired_url']);
    const never = `${stand.apiUrl.replace(/\/api\/$/, '')}/response/never-issued`;
    assert.equal(
      (await fetch(never, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"text":"x"}' }))
        .status,
      404,
    );
  });
});

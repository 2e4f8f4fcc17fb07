/**
 * Slack slash-command benchmark: N signed `/runbook p0 <ns>/<deployment>` requests (default 500,
 * 50 at once) to the real ingress over loopback HTTP, with the real workflows running on a worker
 * in the same process (as `firebreak start` runs them) and the real Slack activities posting to
 * the loopback Slack Web API. Each acknowledged command is first recorded on disk (the ingress's
 * pending-command journal, ingress/slack/pending.ts), as in production.
 *
 * The floor, measured in the same run with the same client and concurrency: a no-op HTTP route
 * (reads the form, answers 200) on a Fastify server in the same process.
 *
 * Reports, for the signed request → HTTP acknowledgement: median, p90, p99, max (goal p99 ≤ 300 ms;
 * Slack's budget is 3 s), beside the floor's. Also reported: request → incident-started report on
 * response_url, and request → incident card posted in the channel. Pass: every request
 * acknowledged 200, ack p99 ≤ 300 ms, every incident started and every card posted.
 *
 *   node --import tsx bench/slack.ts [--requests 500] [--concurrency 50] [--ingress-only] [--json]
 *
 * `--ingress-only` runs no worker: the figures are then the ingress's alone (incidents are
 * started but nothing runs them, so no card is expected).
 *
 * Uses FIREBREAK_TEST_TEMPORAL_ADDRESS when set, else starts its own dev server in a temporary
 * directory and stops it at the end. Started incidents are terminated at the end.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { Worker } from 'node:worker_threads';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Fastify from 'fastify';
import { WebClient } from '@slack/web-api';
import { createSlackActivities } from '../activities/slack';
import { parseEnv } from '../config/env';
import { EMPTY_FILE_CONFIG } from '../config/file';
import { DEFAULT_POLICY } from '../common/incident';
import { buildApp } from '../ingress/app';
import type { SlackIngressContext } from '../ingress/slack/context';
import { createSlackRoutes } from '../ingress/slack/routes';
import { signSlackRequest, slashCommandBody, SlackStandIn } from '../test/bed/slack-standin';
import { FakeWorld } from '../test/workflows/fakes';
import { ensureTemporal } from '../test/bed/temporal';
import { percentile, positiveIntArg, writeBenchResult } from './support';

const SECRET = 'bench-signing-secret';
const TOKEN = 'xoxb-bench';
const CHANNEL = 'C0BENCH';
const SLACK_BUDGET_MS = 3000;
const ACK_GOAL_P99_MS = 300;

interface Options {
  requests: number;
  concurrency: number;
  ingressOnly: boolean;
  json: boolean;
}

function parseArgs(argv: string[]): Options {
  const number = (name: string, fallback: number) => positiveIntArg(argv, name, fallback);
  return {
    requests: number('requests', 500),
    concurrency: number('concurrency', 50),
    ingressOnly: argv.includes('--ingress-only'),
    json: argv.includes('--json'),
  };
}

interface Shot {
  url: string;
  headers: Record<string, string>;
  body: string;
  responseId: string;
}

/**
 * Sends the requests from a thread of its own, `concurrency` at a time, as Slack's servers would
 * from elsewhere: the timings are the ingress's, not those of a client sharing its event loop.
 */
function fire(shots: Shot[], concurrency: number): Promise<Array<{ ms: number; status: number; sentAt: number }>> {
  const thread = new Worker(LOAD_THREAD, { eval: true, workerData: { shots, concurrency } });
  return new Promise((resolve, reject) => {
    thread.once('message', resolve);
    thread.once('error', reject);
  });
}

const LOAD_THREAD = `
const { parentPort, workerData } = require('node:worker_threads');
const { shots, concurrency } = workerData;
const results = new Array(shots.length);
let next = 0;
Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next < shots.length) {
      const i = next++;
      const { url, headers, body } = shots[i];
      const sentAt = Date.now();
      const started = performance.now();
      const res = await fetch(url, { method: 'POST', headers, body });
      await res.text();
      results[i] = { ms: performance.now() - started, status: res.status, sentAt };
    }
  }),
).then(() => parentPort.postMessage(results));
`;

function summary(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  const round = (n: number) => Math.round(n * 100) / 100;
  return {
    count: sorted.length,
    median: round(percentile(sorted, 50)),
    p90: round(percentile(sorted, 90)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted.at(-1) ?? NaN),
  };
}

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  const cleanups: (() => Promise<void>)[] = [];
  try {
    const temporal = await ensureTemporal((line) => console.error(`[temporal] ${line}`));
    cleanups.push(() => temporal.stop());
    const { connectTestClient, runTestWorker, uniqueTaskQueue } = await import('../test/bed/worker');

    const stand = new SlackStandIn({ tokens: [TOKEN] });
    await stand.start();
    cleanups.push(() => stand.stop());
    const { client, connection } = await connectTestClient();
    cleanups.push(() => connection.close());
    const taskQueue = uniqueTaskQueue('bench-slack');
    const web = new WebClient(TOKEN, {
      slackApiUrl: stand.apiUrl,
      retryConfig: { retries: 0 },
      rejectRateLimitedCalls: true,
    });
    if (!options.ingressOnly) {
      const worker = await runTestWorker({
        taskQueue,
        activities: {
          ...new FakeWorld().activities(),
          ...createSlackActivities({ client: web, defaultChannel: CHANNEL, log: () => undefined }),
        },
      });
      cleanups.push(() => worker.stop());
    }

    const pendingDir = await mkdtemp(path.join(tmpdir(), 'firebreak-bench-slack-'));
    cleanups.push(() => rm(pendingDir, { recursive: true, force: true }));
    let ctx: SlackIngressContext | undefined;
    const env = parseEnv({
      SLACK_SIGNING_SECRET: SECRET,
      SLACK_BOT_TOKEN: TOKEN,
      SLACK_API_URL: stand.apiUrl,
      FIREBREAK_TASK_QUEUE: taskQueue,
    });
    const app = await buildApp({
      client,
      env,
      config: EMPTY_FILE_CONFIG,
      policy: { ...DEFAULT_POLICY, approvers: { users: [], groups: [] } },
      health: async () => ({
        ok: true,
        temporal: { ok: true, address: 'bench', namespace: 'default' },
        worker: { ok: true, state: 'RUNNING', taskQueue },
      }),
      routes: [createSlackRoutes({ pendingDir, onContext: (c) => (ctx = c), log: () => undefined })],
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    cleanups.push(() => app.close());
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/slack/commands`;

    // The floor: the same requests to a route that only reads the form and answers.
    const noop = Fastify();
    noop.removeAllContentTypeParsers();
    noop.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));
    noop.post('/noop', async (request) => ({ ok: new URLSearchParams(String(request.body)).has('command') }));
    await noop.listen({ host: '127.0.0.1', port: 0 });
    cleanups.push(() => noop.close());
    const noopUrl = `http://127.0.0.1:${(noop.server.address() as AddressInfo).port}/noop`;

    const run = randomUUID().slice(0, 6);
    const shot = (text: string, command = '/runbook', to = url): Shot => {
      const responseUrl = stand.responseUrl();
      const body = slashCommandBody({
        command,
        text,
        userId: 'U0BENCH',
        userName: 'bench',
        channelId: CHANNEL,
        responseUrl,
      });
      return { url: to, headers: signSlackRequest(SECRET, body), body, responseId: responseUrl.split('/').pop()! };
    };

    // Warm-up: JIT, connection pools, the first visibility call; not measured.
    await fire(
      Array.from({ length: 20 }, () => shot('help', '/incident')),
      1,
    );
    await fire(
      Array.from({ length: 20 }, () => shot('help', '/runbook', noopUrl)),
      1,
    );

    const floor = (
      await fire(
        Array.from({ length: options.requests }, () => shot('p0 bench/noop', '/runbook', noopUrl)),
        options.concurrency,
      )
    ).map((r) => r.ms);

    const targets = Array.from({ length: options.requests }, (_, i) => `bench/svc-${run}-${i}`);
    const shots = targets.map((target) => shot(`p0 ${target} severity=P1`));
    const wall = performance.now();
    const results = (await fire(shots, options.concurrency)).map((r, i) => ({
      ...r,
      target: targets[i]!,
      responseId: shots[i]!.responseId,
    }));
    const wallMs = performance.now() - wall;

    // Wait (bounded) for every incident to report and every card to be posted. Each poll reads only
    // the calls and responses new since the last one, and finds a card's target by name: this loop
    // shares the event loop with the worker and the ingress, so it must not cost calls × targets.
    const deadline = Date.now() + 120_000;
    const cardAt = new Map<string, number>();
    const waiting = new Set(targets);
    const targetInCard = new RegExp(`bench/svc-${run}-\\d+(?=\`)`, 'g');
    const responded = new Set<string>();
    let callsSeen = 0;
    let responsesSeen = 0;
    while (Date.now() < deadline) {
      for (; callsSeen < stand.calls.length; callsSeen++) {
        const call = stand.calls[callsSeen]!;
        if (call.method !== 'chat.postMessage' || call.status !== 200 || call.params.thread_ts !== undefined) continue;
        for (const [target] of JSON.stringify(call.params.blocks ?? '').matchAll(targetInCard)) {
          if (waiting.delete(target)) cardAt.set(target, call.at);
        }
      }
      for (; responsesSeen < stand.responses.length; responsesSeen++) responded.add(stand.responses[responsesSeen]!.id);
      const reported = results.filter((r) => responded.has(r.responseId)).length;
      if (reported === results.length && (options.ingressOnly || cardAt.size === targets.length)) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await ctx?.drain();

    const ack = summary(results.map((r) => r.ms));
    const startedMs = results.flatMap((r) => {
      const response = stand.responses.find((x) => x.id === r.responseId);
      return response && response.body.response_type === 'in_channel' ? [response.at - r.sentAt] : [];
    });
    const cardMs = results.flatMap((r) => (cardAt.has(r.target) ? [cardAt.get(r.target)! - r.sentAt] : []));
    const non200 = results.filter((r) => r.status !== 200).length;
    const overBudget = results.filter((r) => r.ms > SLACK_BUDGET_MS).length;

    for (const target of targets) {
      await client.workflow
        .getHandle(`incident:p0-response:${target}`)
        .terminate('benchmark over')
        .catch(() => undefined);
    }

    const report = {
      requests: options.requests,
      concurrency: options.concurrency,
      wallSeconds: Math.round(wallMs) / 1000,
      ackMs: ack,
      noopHttpFloorMs: summary(floor),
      ackGoalP99Ms: ACK_GOAL_P99_MS,
      incidentStartedMs: summary(startedMs),
      cardPostedMs: summary(cardMs),
      non200,
      overBudget,
    };
    await writeBenchResult('slack', report);
    const pass =
      non200 === 0 &&
      overBudget === 0 &&
      ack.p99 <= ACK_GOAL_P99_MS &&
      startedMs.length === targets.length &&
      (options.ingressOnly || cardMs.length === targets.length);
    if (options.json) console.log(JSON.stringify({ ...report, pass }, null, 2));
    else {
      const line = (name: string, s: ReturnType<typeof summary>) =>
        `${name.padEnd(42)} n=${s.count}  median ${s.median} ms  p90 ${s.p90} ms  p99 ${s.p99} ms  max ${s.max} ms`;
      console.log(
        `Slack command benchmark: ${options.requests} signed /runbook requests, concurrency ${options.concurrency} (client in its own thread), ` +
          `${options.ingressOnly ? 'ingress only (no worker)' : 'worker in the same process'}, wall ${report.wallSeconds} s`,
      );
      console.log(line('signed request → HTTP acknowledgement', ack));
      console.log(line('floor: same request → no-op HTTP route', report.noopHttpFloorMs));
      console.log(line('signed request → incident started (response_url)', report.incidentStartedMs));
      if (!options.ingressOnly) console.log(line('signed request → card posted', report.cardPostedMs));
      console.log(
        `ack p99 goal ≤ ${ACK_GOAL_P99_MS} ms; non-200: ${non200}; over Slack's 3 s budget: ${overBudget}; ${pass ? 'PASS' : 'FAIL'}`,
      );
    }
    return pass ? 0 : 1;
  } finally {
    for (const step of cleanups.reverse()) await step().catch((err: unknown) => console.error(String(err)));
  }
}

main()
  .then((code) => process.exit(code))
  .catch((err) => {
    console.error(err);
    process.exit(1);
  });

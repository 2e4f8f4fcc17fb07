/**
 * Socket Mode (SLACK_APP_TOKEN, no public URL): the ingress opens the connection to the loopback
 * Slack itself, through Slack's own @slack/socket-mode client; slash commands and clicks arrive as
 * envelopes over a real WebSocket and run the same handlers as HTTP, against the real dev server
 * and workflows. A link that dies without a close is noticed by ping/pong and replaced.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Client, Connection } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { parseEnv } from '../config/env';
import { createLogger } from '../config/logger';
import { EMPTY_FILE_CONFIG } from '../config/file';
import { buildApp } from '../ingress/app';
import { createSlackRoutes } from '../ingress/slack/routes';
import { statusQuery } from '../domain/messages';
import { slashCommandBody, signSlackRequest, SlackStandIn } from './bed/slack-standin';
import { uniqueTaskQueue, type TestWorker } from './bed/worker';
import { buildSlackApp, startSlackBed, stopSlackBed } from './slack-support';
import { fastPolicy, gatePending, uniqueTarget, waitForRecord } from './workflows/harness';

const BOT_TOKEN = 'xoxb-firebreak-test';
const APP_TOKEN = 'xapp-1-A0FIREBREAK-1-test';
const CHANNEL = 'C0SOCKET';
const BOB = { id: 'U0BOB', name: 'bob' };

let stand: SlackStandIn;
let client: Client;
let connection: Connection;
let worker: TestWorker;
let app: FastifyInstance;

before(async () => {
  const bed = await startSlackBed({
    token: BOT_TOKEN,
    moreTokens: [APP_TOKEN],
    channel: CHANNEL,
    taskQueue: uniqueTaskQueue('slack-socket'),
  });
  ({ stand, client, connection, worker } = bed);
  app = await buildSlackApp(bed, {
    // No signing secret: with Socket Mode nothing comes in over HTTP.
    env: { SLACK_APP_TOKEN: APP_TOKEN },
    policy: fastPolicy({
      p0RestartWithoutApproval: false,
      approvers: { users: [BOB.id], groups: [] },
      gateDeadlineMs: 120_000,
      gateEscalateAfterMs: 120_000,
    }),
  });
  await app.ready();
});

after(() => stopSlackBed({ app, worker, connection, stand }));

function commandPayload(text: string, responseUrl: string): Record<string, string> {
  return Object.fromEntries(
    new URLSearchParams(
      slashCommandBody({
        command: '/runbook',
        text,
        userId: 'U0ALICE',
        userName: 'alice',
        channelId: CHANNEL,
        responseUrl,
      }),
    ),
  );
}

test('commands and clicks arrive over Socket Mode, are acknowledged per envelope, and survive a refresh', async () => {
  await stand.waitFor('a Socket Mode connection', () => stand.socketConnections.length === 1);
  const opens = stand.callsOf('apps.connections.open');
  assert.equal(opens.length, 1);
  assert.equal(opens[0]!.token, APP_TOKEN, 'opened with the app-level token');

  const target = uniqueTarget('socket');
  const responseUrl = stand.responseUrl();
  const ack = await stand.sendEnvelope(
    'slash_commands',
    commandPayload(`p0 ${target.namespace}/${target.deployment}`, responseUrl),
  );
  const answer = ack.payload as { response_type: string; text: string };
  assert.equal(answer.response_type, 'ephemeral');
  assert.match(answer.text, /Starting \*P0 incident response\*/);
  await stand.waitFor('the incident report', () => stand.responses.find((r) => responseUrl.endsWith(r.id)));
  const handle = client.workflow.getHandle(`incident:p0-response:${target.namespace}/${target.deployment}`);
  await waitForRecord(handle, gatePending('restart'));

  // Over HTTP, without a signing secret, nothing is accepted.
  const body = slashCommandBody({
    command: '/runbook',
    text: 'p0 shop/x',
    userId: 'U1',
    userName: 'x',
    channelId: CHANNEL,
    responseUrl,
  });
  const http = await app.inject({
    method: 'POST',
    url: '/slack/commands',
    headers: signSlackRequest('any', body),
    payload: body,
  });
  assert.equal(http.statusCode, 503);

  // Slack refreshes the link: the ingress opens a new one and keeps working.
  stand.requestRefresh();
  await stand.waitFor('a second connection', () => stand.socketsOpened === 2 && stand.socketConnections.length === 1);

  const request = await stand.waitFor('the approval request', () =>
    stand.messages.find((m) => m.channel === CHANNEL && JSON.stringify(m.blocks ?? []).includes(':restart:approve')),
  );
  const actions = (request.blocks ?? []).find((b) => (b as { type: string }).type === 'actions') as {
    block_id: string;
    elements: Array<{ action_id: string; value: string; type: string }>;
  };
  const approve = actions.elements.find((e) => e.action_id.endsWith(':restart:approve'))!;
  const clickAck = await stand.sendEnvelope('interactive', {
    type: 'block_actions',
    user: { id: BOB.id, username: BOB.name },
    channel: { id: CHANNEL },
    container: { type: 'message', message_ts: request.ts, channel_id: CHANNEL },
    message: { ts: request.ts, blocks: request.blocks },
    response_url: stand.responseUrl(),
    actions: [{ action_id: approve.action_id, block_id: actions.block_id, value: approve.value, type: 'button' }],
  });
  assert.deepEqual(clickAck.payload ?? {}, {}, 'a click is acknowledged with its envelope id only');
  const record = await waitForRecord(handle, (r) => r.gates[0]?.status === 'approved');
  assert.equal(record.gates[0]!.decidedBy?.id, BOB.id);

  const ignored = await stand.sendEnvelope('events_api', { type: 'event_callback', event: { type: 'app_mention' } });
  assert.deepEqual(ignored.payload ?? {}, {});
  assert.equal((await handle.query(statusQuery)).gates.length, 1);
  await handle.terminate('test over');
});

test('a link that dies without a close is noticed by ping/pong and replaced', async () => {
  // A Slack of its own, pinging often, and an ingress with short liveness timeouts, so this takes seconds.
  const slack = new SlackStandIn({ tokens: [APP_TOKEN], socketPingIntervalMs: 250 });
  await slack.start();
  const logs: string[] = [];
  const ingress = await buildApp({
    client,
    env: parseEnv({ SLACK_APP_TOKEN: APP_TOKEN, SLACK_API_URL: slack.apiUrl }),
    config: EMPTY_FILE_CONFIG,
    policy: fastPolicy(),
    health: async () => ({
      ok: true,
      temporal: { ok: true, address: 'test', namespace: 'default' },
      worker: { ok: true, state: 'RUNNING', taskQueue: 'none' },
    }),
    logger: createLogger({ level: 'debug', destination: { write: (line: string) => void logs.push(line) } }),
    routes: [
      createSlackRoutes({
        log: () => undefined,
        socketMode: { clientPingTimeoutMs: 1_000, serverPingTimeoutMs: 2_000 },
      }),
    ],
  });
  try {
    await ingress.ready();
    await slack.waitFor('a Socket Mode connection', () => slack.socketConnections.length === 1);
    // The control: a link whose pings are answered outlives both timeouts.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    assert.equal(slack.socketsOpened, 1, 'a healthy link is kept');

    slack.dropSocketSilently();
    await slack.waitFor(
      'a new connection after the silent one',
      () => slack.socketsOpened === 2 && slack.socketConnections.length === 1,
      15_000,
    );
    assert.equal(slack.callsOf('apps.connections.open').length, 2);
    assert.ok(
      logs.some((line) => /pong wasn't received/.test(line)),
      'the unanswered ping is what gave the dead link away',
    );

    // The new link carries commands, answered on the acknowledgement.
    const ack = await slack.sendEnvelope('slash_commands', commandPayload('help', slack.responseUrl()));
    assert.match(String((ack.payload as { text?: string }).text), /runbook/i);
  } finally {
    await ingress.close();
    await slack.stop();
  }
});

/**
 * Slack end to end on the real harness: the real ingress (buildApp + the Slack route module), the
 * real dev server, the real runbook workflows from the bundle, a worker running the real Slack
 * activities against the loopback Slack Web API (typed fakes for Kubernetes and the rest), and
 * correctly signed — or forged, stale, future-dated — requests.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Client, Connection, WorkflowHandle } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { escapeMrkdwn, SLACK_LIMITS, truncateText } from '../domain/slack/mrkdwn';
import type { IncidentRecord, TimelineEntry } from '../common/types';
import type { SlackIngressContext } from '../ingress/slack/context';
import { decideUpdate, statusQuery } from '../domain/messages';
import { blockActionsBody, signSlackRequest, slashCommandBody, type SlackStandIn } from './bed/slack-standin';
import { buttons, SlackDriver } from './slack-driver';
import { uniqueTaskQueue, type TestWorker } from './bed/worker';
import { buildSlackApp, startSlackBed, stopSlackBed, workflowExists } from './slack-support';
import { FakeWorld } from './workflows/fakes';
import { eventTypes, fastPolicy, gatePending, uniqueTarget, waitForRecord } from './workflows/harness';

const SECRET = 'firebreak-test-signing-secret';
const TOKEN = 'xoxb-firebreak-test';
const CHANNEL = 'C0INCIDENTS';
const ALICE = { id: 'U0ALICE', name: 'alice' };
const CAROL = { id: 'U0CAROL', name: 'carol' };
const MALLORY = { id: 'U0MALLORY', name: 'mallory' };
const BOB = { id: 'U0BOB', name: 'bob' };

let stand: SlackStandIn;
let client: Client;
let connection: Connection;
let worker: TestWorker;
let app: FastifyInstance;
let ctx: SlackIngressContext;
const world = new FakeWorld();

const policy = fastPolicy({
  p0RestartWithoutApproval: false,
  approvers: { users: [BOB.id], groups: ['S0SRE'] },
  gateEscalateAfterMs: 120_000,
  gateDeadlineMs: 120_000,
});

before(async () => {
  const bed = await startSlackBed({ token: TOKEN, channel: CHANNEL, world, taskQueue: uniqueTaskQueue('slack') });
  ({ stand, client, connection, worker } = bed);
  stand.usergroups.set('S0SRE', [CAROL.id]);
  stand.usergroups.set('S0SALES', [MALLORY.id]);
  app = await buildSlackApp(bed, {
    env: { SLACK_SIGNING_SECRET: SECRET, FIREBREAK_TEMPORAL_UI_URL: 'http://127.0.0.1:8233' },
    policy,
    routes: { onContext: (c) => (ctx = c) },
  });
});

after(() => stopSlackBed({ app, worker, connection, stand }));

// ---- helpers ---------------------------------------------------------------------------------

const slack = new SlackDriver(() => ({ app, stand }), { secret: SECRET, channel: CHANNEL, user: ALICE });
const { command, responseFor, card, click, postInteraction } = slack;

async function startP0(target: string, user = ALICE): Promise<{ handle: WorkflowHandle; workflowId: string }> {
  const { res, responseId } = await command(`p0 ${target} severity=P0`, { user });
  assert.equal(res.statusCode, 200, res.body);
  const workflowId = `incident:p0-response:${target}`;
  await responseFor(responseId);
  return { handle: client.workflow.getHandle(workflowId), workflowId };
}

const t = (target: { namespace: string; deployment: string }) => `${target.namespace}/${target.deployment}`;

// ---- tests -----------------------------------------------------------------------------------

describe('slash commands', () => {
  test('a signed /runbook command is acknowledged at once, starts the incident and the card is posted', async () => {
    const target = t(uniqueTarget('checkout'));
    const started = Date.now();
    const { res, responseId } = await command(`p0 ${target} severity=P0`);
    const ackMs = Date.now() - started;
    assert.equal(res.statusCode, 200);
    const answer = res.json();
    assert.equal(answer.response_type, 'ephemeral');
    assert.match(answer.text, /Starting \*P0 incident response\*/);
    assert.ok(ackMs < 3000, `acknowledged in ${ackMs} ms`);

    const reported = await responseFor(responseId);
    assert.equal(reported.body.response_type, 'in_channel');
    const workflowId = `incident:p0-response:${target}`;
    assert.match(
      String(reported.body.text),
      /incident <http:\/\/127\.0\.0\.1:8233\/namespaces\/default\/workflows\/incident%3Ap0-response%3A/,
    );
    assert.match(String(reported.body.text), /INC-\d{8}-\d{6}-p0-/);

    const handle = client.workflow.getHandle(workflowId);
    const description = await handle.describe();
    assert.equal(description.status.name, 'RUNNING');
    const record = await waitForRecord(handle, gatePending('restart'));
    assert.deepEqual(record.trigger, { kind: 'slack', user: ALICE.id, userName: ALICE.name, channel: CHANNEL });

    const posted = await card(target);
    assert.equal(posted.channel, CHANNEL);
    // The first version of the card precedes the gate; chat.update adds its buttons.
    await stand.waitFor('the gate on the card', () =>
      buttons(posted).some((b) => b.action_id.endsWith(':restart:approve')),
    );
    const ids = buttons(posted).map((b) => b.action_id);
    assert.ok(
      ids.some((id) => id.endsWith(':restart:approve')),
      'approve button on the card',
    );
    assert.ok(
      ids.some((id) => id.endsWith(':ack')),
      'acknowledge button on the card',
    );

    // A second trigger for the same target lands on the open incident, not a second one.
    const again = await command(`p0 ${target}`);
    const second = await responseFor(again.responseId);
    assert.equal(second.body.response_type, 'ephemeral');
    assert.match(String(second.body.text), /already open/);
    await handle.terminate('test over');
  });

  test('forged, tampered, stale and future-dated requests get 401 and start nothing', async () => {
    const before = { calls: stand.calls.length, responses: stand.responses.length };
    const now = Math.floor(Date.now() / 1000);
    const cases: Array<[string, (body: string) => Record<string, string>]> = [
      ['forged with another secret', (body) => signSlackRequest('not-the-secret', body)],
      ['stale by 301 s', (body) => signSlackRequest(SECRET, body, now - 301)],
      ['future-dated by 301 s', (body) => signSlackRequest(SECRET, body, now + 301)],
      ['tampered body', (body) => signSlackRequest(SECRET, body.replace('severity', 'sevErity'))],
      ['no signature', () => ({ 'content-type': 'application/x-www-form-urlencoded' })],
      [
        'non-numeric timestamp',
        (body) => ({ ...signSlackRequest(SECRET, body), 'x-slack-request-timestamp': `${now}.5` }),
      ],
      [
        'duplicated signature header',
        (body) => {
          const headers = signSlackRequest(SECRET, body);
          return {
            ...headers,
            'x-slack-signature': `${headers['x-slack-signature']!}, ${headers['x-slack-signature']!}`,
          };
        },
      ],
      [
        'v1 signature',
        (body) => {
          const headers = signSlackRequest(SECRET, body);
          return { ...headers, 'x-slack-signature': headers['x-slack-signature']!.replace('v0=', 'v1=') };
        },
      ],
    ];
    const targets: string[] = [];
    for (const [name, sign] of cases) {
      const target = t(uniqueTarget('forged'));
      targets.push(target);
      const body = slashCommandBody({
        command: '/runbook',
        text: `p0 ${target} severity=P0`,
        userId: ALICE.id,
        userName: ALICE.name,
        channelId: CHANNEL,
        responseUrl: stand.responseUrl(),
      });
      const res = await app.inject({ method: 'POST', url: '/slack/commands', headers: sign(body), payload: body });
      assert.equal(res.statusCode, 401, name);
      assert.match(res.json().error, /verification failed/, name);
      const interaction = await postInteraction(blockActionsBody({ type: 'block_actions' }), sign(body));
      assert.equal(interaction.statusCode, 401, `${name} (interactions)`);
    }
    await ctx.drain();
    for (const target of targets) assert.equal(await workflowExists(client, `incident:p0-response:${target}`), false);
    // Other incidents' activities may still be talking to Slack: look for these targets only.
    const mentioned = (value: unknown) => targets.some((target) => JSON.stringify(value).includes(target));
    assert.ok(!stand.calls.slice(before.calls).some((call) => mentioned(call.params)), 'Slack heard nothing of them');
    assert.equal(stand.responses.length, before.responses, 'nothing was answered later');

    // The window is 300 s in both directions: inside it is accepted (a few seconds' margin for slow machines).
    for (const skew of [-290, 290]) {
      const { res } = await command('help', { command: '/incident', timestamp: Math.floor(Date.now() / 1000) + skew });
      assert.equal(res.statusCode, 200, `skew ${skew}: ${res.body}`);
    }
  });

  test('bad arguments answer the runbook usage, ephemerally, and start nothing', async () => {
    const catalog = await command('');
    assert.equal(catalog.res.json().response_type, 'ephemeral');
    assert.match(
      catalog.res.json().text,
      /Firebreak runbooks[\s\S]*\/runbook rollback &lt;namespace&gt;\/&lt;deployment&gt; \[revision\]/,
    );
    const target = t(uniqueTarget('bad'));
    const cases: Array<[string, RegExp]> = [
      ['p0 not-a-target', /Usage:\* `\/runbook p0 &lt;namespace&gt;\/&lt;deployment&gt;/],
      [`rollback ${target} three`, /Usage:\* `\/runbook rollback/],
      [`oom ${target} memoryLimit=lots`, /memory quantity[\s\S]*Usage:\* `\/runbook oom/],
      [`oom ${target} memoryLimit=16Gi memoryCap=8Gi`, /memoryLimit must not exceed memoryCap/],
      [`p0 ${target} healthUrl=ftp://x`, /Usage:\* `\/runbook p0/],
      [`avalanche ${target} replicas=100000`, /Usage:\* `\/runbook avalanche/],
      [`nope ${target}`, /no runbook called "nope"/],
    ];
    for (const [text, expected] of cases) {
      const { res } = await command(text);
      assert.equal(res.statusCode, 200, text);
      assert.equal(res.json().response_type, 'ephemeral', text);
      assert.match(res.json().text, expected, text);
    }
    await ctx.drain();
    for (const runbook of ['p0-response', 'emergency-rollback', 'oom-triage', 'avalanche-mitigation']) {
      assert.equal(await workflowExists(client, `incident:${runbook}:${target}`), false, runbook);
    }
  });

  test('/incident list, status (by incident id), ack and resolve', async () => {
    const target = t(uniqueTarget('ops'));
    const { handle, workflowId } = await startP0(target);
    const record = await waitForRecord(handle, gatePending('restart'));

    let list;
    for (let i = 0; i < 50; i++) {
      list = (await command('list', { command: '/incident' })).res.json();
      if (String(list.text).includes(escapeMrkdwn(workflowId))) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.match(String(list.text), new RegExp(`P0 <[^|]+\\|${escapeRe(workflowId)}> — p0-response, open`));

    const all = (await command('list all', { command: '/incident' })).res.json();
    assert.match(String(all.text), /\*Running incidents\*/);
    assert.ok(String(all.text).includes(escapeMrkdwn(workflowId)));

    const status = (await command(`status ${record.id}`, { command: '/incident' })).res.json();
    assert.match(status.text, new RegExp(`Incident ${escapeRe(record.id)}`));
    assert.match(status.text, /Waiting for approval: `restart`/);

    const ack = (await command(`ack ${workflowId} looking`, { command: '/incident', user: BOB })).res.json();
    assert.equal(ack.response_type, 'in_channel');
    assert.match(ack.text, /acknowledged by <@U0BOB>/);
    assert.equal((await handle.query(statusQuery)).acknowledgedBy?.id, BOB.id);

    // Resolving withdraws pending gates: with approvers configured, someone outside them is refused.
    const refused = (await command(`resolve ${target}`, { command: '/incident', user: MALLORY })).res.json();
    assert.equal(refused.response_type, 'ephemeral');
    assert.match(refused.text, /you may not resolve incident/);
    const untouched = await handle.query(statusQuery);
    assert.equal(untouched.closedAt, undefined);
    assert.ok(!untouched.timeline.some((e) => /Resolution requested/.test(e.message)), 'no resolution was requested');
    assert.equal(untouched.gates.find((g) => g.name === 'restart')?.status, 'pending');

    // A member of an approver group (S0SRE) may.
    const resolved = (await command(`resolve ${target}`, { command: '/incident', user: CAROL })).res.json();
    assert.match(resolved.text, /<@U0CAROL> resolved incident/);
    const final = await waitForRecord(handle, (r) => r.closedAt !== undefined, 20_000);
    assert.equal(final.status, 'resolved');
    const unknown = (await command('status INC-20200101-000000-p0-nothing', { command: '/incident' })).res.json();
    assert.match(unknown.text, /no incident INC-20200101-000000-p0-nothing/);
  });
});

describe('approval buttons', () => {
  test('unauthorized → refused and card unchanged; authorized double click → one decision, card updated; late → explained', async () => {
    const target = t(uniqueTarget('approve'));
    const { handle } = await startP0(target);
    await waitForRecord(handle, gatePending('restart'));
    const posted = await card(target);
    const request = await stand.waitFor('the approval request in the thread', () =>
      stand.thread(CHANNEL, posted.ts).find((m) => buttons(m).some((b) => b.action_id.endsWith(':restart:approve'))),
    );
    assert.equal(request.reply_broadcast, true);
    const approve = buttons(request).find((b) => b.action_id.endsWith(':restart:approve'))!;
    const reject = buttons(request).find((b) => b.action_id.endsWith(':restart:reject'))!;
    // The card and the request carry the same action: one update id wherever it is clicked.
    assert.ok(buttons(posted).some((b) => b.action_id === approve.action_id));

    // Mallory is neither an approver nor in an approver group.
    const cardVersions = posted.versions.length;
    const cardBlocks = JSON.stringify(posted.blocks);
    const refused = await postInteraction(click(MALLORY, request, approve).body);
    assert.equal(refused.statusCode, 200);
    const note = await stand.waitFor('an ephemeral refusal for mallory', () =>
      stand.ephemerals.find((e) => e.user === MALLORY.id),
    );
    assert.match(String(note.text), /may not decide gate restart/);
    assert.equal(note.channel, CHANNEL);
    await ctx.drain();
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal((await handle.query(statusQuery)).gates[0]!.status, 'pending');
    assert.equal(posted.versions.length, cardVersions, 'card unchanged');
    assert.equal(JSON.stringify(posted.blocks), cardBlocks);
    assert.ok(!(await eventTypes(handle)).includes('EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED'));

    // Carol is an approver through the S0SRE user group; she double-clicks.
    const first = click(CAROL, request, approve);
    const second = click(CAROL, request, approve);
    const [a, b] = await Promise.all([postInteraction(first.body), postInteraction(second.body)]);
    assert.equal(a.statusCode, 200);
    assert.equal(b.statusCode, 200);
    const decided = await waitForRecord(handle, (r) => r.gates[0]?.status === 'approved');
    await ctx.drain();
    assert.equal(decided.gates[0]!.decidedBy?.id, CAROL.id);
    assert.deepEqual(decided.gates[0]!.decidedBy?.groups, ['S0SRE']);
    const events = await eventTypes(handle);
    assert.equal(events.filter((e) => e === 'EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED').length, 1, 'one decision');
    assert.equal(events.filter((e) => e === 'EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED').length, 1);
    const final = await waitForRecord(handle, (r) => r.status === 'mitigated');
    assert.equal(final.timeline.filter((e) => e.kind === 'decision').length, 1);
    assert.equal(world.made('rolloutRestart', (i) => i.deployment === target.split('/')[1]).length, 1);
    assert.equal(stand.callsOf('usergroups.users.list').length, 1, 'group membership looked up once (cached)');
    assert.ok(!stand.ephemerals.some((e) => e.user === CAROL.id), 'no refusal for carol');

    // The card and the request say who approved, and lose their buttons.
    await stand.waitFor('the card to show the approval', () =>
      JSON.stringify(posted.blocks).includes('Approved by <@U0CAROL> at <!date^'),
    );
    assert.ok(!buttons(posted).some((b) => b.action_id === approve.action_id));
    await stand.waitFor(
      'the request to show the approval',
      () =>
        JSON.stringify(request.blocks).includes('Approved by <@U0CAROL> at <!date^') && buttons(request).length === 0,
    );

    // Bob (an approver) clicks Reject on the old message: too late.
    await postInteraction(click(BOB, request, reject).body);
    const late = await stand.waitFor('an ephemeral for bob', () => stand.ephemerals.find((e) => e.user === BOB.id));
    assert.match(String(late.text), /too late: gate restart is already approved/);
    assert.equal((await handle.query(statusQuery)).gates[0]!.status, 'approved');
    await handle.terminate('test over');
  });

  test('four eyes: the trigger cannot approve their own rollback; another approver picks the revision', async () => {
    const target = t(uniqueTarget('rollback'));
    const { res, responseId } = await command(`rollback ${target}`, { user: BOB });
    assert.equal(res.statusCode, 200, res.body);
    await responseFor(responseId);
    const handle = client.workflow.getHandle(`incident:emergency-rollback:${target}`);
    const record = await waitForRecord(handle, gatePending('confirm-rollback'));
    const choices = record.gates[0]!.choices!;
    assert.ok(choices.length >= 1 && choices.length <= 4, `choices ${choices}`);
    const posted = await card(target);
    const request = await stand.waitFor('the rollback approval request', () =>
      stand
        .thread(CHANNEL, posted.ts)
        .find((m) => buttons(m).some((b) => b.action_id.includes(':confirm-rollback:approve:'))),
    );
    const choiceButtons = buttons(request).filter((b) => b.action_id.includes(':confirm-rollback:approve:'));
    assert.deepEqual(
      choiceButtons.map((b) => b.text?.text),
      choices.map((c) => `Approve ${c}`),
    );
    const pick = choiceButtons.at(-1)!;

    await postInteraction(click(BOB, request, pick).body);
    const refusal = await stand.waitFor('a four-eyes refusal for bob', () =>
      stand.ephemerals.find(
        (e) => e.user === BOB.id && /someone other than the person who triggered/.test(e.text ?? ''),
      ),
    );
    assert.match(String(refusal.text), /four-eyes rule/);
    assert.equal((await handle.query(statusQuery)).gates[0]!.status, 'pending');

    await postInteraction(click(CAROL, request, pick).body);
    const decided = await waitForRecord(handle, (r) => r.gates[0]?.status === 'approved');
    assert.equal(decided.gates[0]!.choice, choices.at(-1));
    assert.equal(decided.gates[0]!.decidedBy?.id, CAROL.id);
    await handle.terminate('test over');
  });

  test('the Acknowledge button acknowledges once, as the clicker', async () => {
    const target = t(uniqueTarget('ack'));
    const { handle } = await startP0(target);
    const posted = await card(target);
    const ack = buttons(posted).find((b) => b.action_id.endsWith(':ack'))!;
    await Promise.all([
      postInteraction(click(MALLORY, posted, ack).body),
      postInteraction(click(MALLORY, posted, ack).body),
    ]);
    const record = await waitForRecord(handle, (r) => r.acknowledgedAt !== undefined);
    assert.equal(record.acknowledgedBy?.id, MALLORY.id);
    await ctx.drain();
    const events = await eventTypes(handle);
    assert.equal(events.filter((e) => e === 'EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED').length, 1);
    await stand.waitFor(
      'the card to show the acknowledgement',
      () =>
        JSON.stringify(posted.blocks).includes('<@U0MALLORY> at <!date^') &&
        !buttons(posted).some((b) => b.action_id === ack.action_id),
    );
    await handle.terminate('test over');
  });
});

describe('rate limits', () => {
  test('a 429 storm on chat.postMessage: every message delivered, thread order kept', async () => {
    const target = t(uniqueTarget('storm'));
    const before429 = stand.calls.filter((c) => c.status === 429).length;
    // Every other chat.postMessage for the next 16 calls is answered 429 with Retry-After: 1.
    stand.storm('chat.postMessage', { calls: 16, every: 2, retryAfter: '1' });
    const { handle } = await startP0(target);
    await waitForRecord(handle, gatePending('restart'), 30_000);
    await handle.executeUpdate(decideUpdate, { args: [{ gate: 'restart', decision: 'approve', actor: BOB }] });
    await waitForRecord(handle, (r) => r.status === 'mitigated', 30_000);
    await handle.signal('resolve', { actor: BOB });
    const result = (await handle.result()) as IncidentRecord;
    assert.equal(result.status, 'resolved');
    const served429 = stand.calls.filter((c) => c.status === 429).length - before429;
    assert.ok(served429 >= 6, `${served429} answers were 429`);

    const posted = stand.channelMessages(CHANNEL).find((m) => JSON.stringify(m.blocks ?? []).includes(target));
    assert.ok(posted, 'the card got through');
    assert.equal(
      stand.channelMessages(CHANNEL).filter((m) => JSON.stringify(m.blocks ?? []).includes(target)).length,
      1,
    );
    const kinds = new Set([
      'opened',
      'step',
      'diagnostic',
      'decision',
      'gate',
      'acknowledged',
      'mitigation',
      'restoration',
      'alert',
      'note',
      'failure',
      'escalation',
    ]);
    const thread = stand
      .thread(CHANNEL, posted.ts)
      .map((m) => m.text ?? '')
      .filter((text) => kinds.has(text.split(':')[0]!));
    const expected = result.timeline
      .filter(postedToThread)
      .map((e) => truncateText(`${e.kind}: ${escapeMrkdwn(e.message)}`, SLACK_LIMITS.fallbackText));
    assert.ok(expected.length >= 8, `${expected.length} timeline entries`);
    assert.deepEqual(thread, expected, 'every entry delivered once, in timeline order');
  });
});

describe('malformed requests', () => {
  test('signed but malformed payloads → 400 with a clear message, never a crash', async () => {
    const cases: Array<[string, string, string, RegExp, string?]> = [
      ['interactions', 'no payload', 'foo=bar', /missing form field "payload"/],
      ['interactions', 'payload not JSON', 'payload=%7Bnot-json', /"payload" is not valid JSON/],
      ['interactions', 'payload without type', `payload=${encodeURIComponent('[1,2]')}`, /payload has no "type"/],
      [
        'interactions',
        'block_actions without user/actions',
        blockActionsBody({ type: 'block_actions' }),
        /invalid block_actions payload[\s\S]*user/,
      ],
      [
        'interactions',
        'Firebreak action with a bad value',
        blockActionsBody({
          type: 'block_actions',
          user: { id: 'U1' },
          actions: [{ action_id: 'fb:x:ack', type: 'button', value: 'garbage' }],
        }),
        /value that is not JSON/,
      ],
      [
        'interactions',
        'Firebreak action with a wrong value',
        blockActionsBody({
          type: 'block_actions',
          user: { id: 'U1' },
          actions: [{ action_id: 'fb:x:ack', type: 'button', value: '{"w":1}' }],
        }),
        /invalid value/,
      ],
      ['commands', 'not a command', 'text=hello', /not a slash command: missing command, user_id, channel_id/],
      [
        'commands',
        'JSON body',
        '{"command":"/runbook"}',
        /expected application\/x-www-form-urlencoded/,
        'application/json',
      ],
    ];
    for (const [route, name, body, expected, contentType] of cases) {
      const headers = { ...signSlackRequest(SECRET, body), ...(contentType ? { 'content-type': contentType } : {}) };
      const res = await app.inject({ method: 'POST', url: `/slack/${route}`, headers, payload: body });
      assert.equal(res.statusCode, 400, name);
      assert.match(res.json().error, expected, name);
    }
    const other = blockActionsBody({ type: 'view_submission', view: {} });
    assert.equal(
      (await postInteraction(other)).statusCode,
      200,
      'other interaction types are acknowledged and ignored',
    );
    const foreign = blockActionsBody({
      type: 'block_actions',
      user: { id: 'U1' },
      actions: [{ action_id: 'other-app', type: 'button' }],
    });
    assert.equal((await postInteraction(foreign)).statusCode, 200, "another app's buttons are ignored");
    const huge = `payload=${'x'.repeat(1_100_000)}`;
    const tooLarge = await app.inject({
      method: 'POST',
      url: '/slack/interactions',
      headers: signSlackRequest(SECRET, huge),
      payload: huge,
    });
    assert.equal(tooLarge.statusCode, 413);
    const alive = await command('help', { command: '/incident' });
    assert.equal(alive.res.statusCode, 200, 'the ingress still answers');
  });
});

/** The kernel posts every timeline entry to the thread except status changes, gate openings and Slack-tier escalations. */
function postedToThread(entry: TimelineEntry): boolean {
  if (entry.kind === 'status') return false;
  if (entry.kind === 'gate' && entry.message.startsWith('Approval needed')) return false;
  if (entry.kind === 'escalation' && entry.data?.kind === 'slack') return false;
  return !entry.message.startsWith('History is long');
}

function escapeRe(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

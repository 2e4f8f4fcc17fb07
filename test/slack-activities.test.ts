/**
 * The Slack activities against the loopback Slack Web API through the real WebClient: Block Kit
 * limits, mrkdwn escaping, error mapping onto Temporal retry semantics, log-only mode; plus the
 * pure parts of the ingress (signature verification, command grammar).
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { WebClient } from '@slack/web-api';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createSlackActivities, type SlackMessageRef } from '../activities/slack';
import { ErrorType } from '../common/errors';
import type { GateState, IncidentRecord } from '../common/types';
import { renderIncidentCard } from '../domain/slack/blocks';
import { gateActions } from '../domain/slack/buttons';
import { escapeMrkdwn, SLACK_LIMITS, truncateText } from '../domain/slack/mrkdwn';
import { parseIncidentCommand, parseRunbookCommand } from '../ingress/slack/commands';
import { parseInteraction } from '../ingress/slack/interactions';
import { verifySlackSignature } from '../ingress/slack/verify';
import { signSlackRequest, SlackStandIn } from './bed/slack-standin';

const TOKEN = 'xoxb-firebreak-test';
const CHANNEL = 'C0ACTIVITIES';
const HOSTILE = '<!channel> <@U0VICTIM> <https://evil.example|click me> & <!subteam^S0ALL>';

let stand: SlackStandIn;
let web: WebClient;

before(async () => {
  stand = new SlackStandIn();
  await stand.start();
  web = new WebClient(TOKEN, { slackApiUrl: stand.apiUrl, retryConfig: { retries: 0 }, rejectRateLimitedCalls: true });
});

after(async () => {
  await stand?.stop();
});

function record(overrides: Partial<IncidentRecord> = {}): IncidentRecord {
  return {
    id: 'INC-20261121-051718-p0-checkout',
    runbook: 'p0-response',
    title: 'P0 incident response: shop/checkout',
    target: { namespace: 'shop', deployment: 'checkout' },
    targets: [{ namespace: 'shop', deployment: 'checkout' }],
    severity: 'P0',
    status: 'open',
    trigger: { kind: 'slack', user: 'U0ALICE', userName: 'alice' },
    openedAt: '2026-11-21T05:17:18.000Z',
    escalationTier: 0,
    gates: [],
    mitigations: [],
    alerts: [],
    alertsPartial: false,
    timeline: [],
    ...overrides,
  };
}

function gate(name: string, overrides: Partial<GateState> = {}): GateState {
  return {
    name,
    prompt: `Restart? ${HOSTILE}`,
    status: 'pending',
    requestedAt: '2026-11-21T05:18:00.000Z',
    deadline: '2026-11-21T05:48:00.000Z',
    fourEyes: false,
    ...overrides,
  };
}

/** Every mrkdwn text in the stored blocks (plain_text is shown literally: Slack never parses it for mentions). */
function texts(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(texts);
  if (value && typeof value === 'object') {
    if ((value as { type?: unknown }).type === 'plain_text') return [];
    return Object.entries(value).flatMap(([key, v]) => (key === 'value' || key === 'action_id' ? [] : texts(v)));
  }
  return [];
}

describe('incident card', () => {
  test('is posted once, then updated in place, within Block Kit limits, with foreign text escaped', async () => {
    const slack = createSlackActivities({ client: web, defaultChannel: CHANNEL, log: () => undefined });
    const huge = `${HOSTILE} ${'x&y'.repeat(5000)}`;
    const incident = record({
      title: `P0 incident response: shop/checkout ${HOSTILE}`,
      gates: Array.from({ length: 30 }, (_, i) =>
        gate(`gate-${i}`, { choices: Array.from({ length: i % 7 }, (_, c) => `revision ${c} ${HOSTILE}`) }),
      ),
      timeline: Array.from({ length: 12 }, (_, i) => ({
        at: `2026-11-21T05:${String(20 + i).padStart(2, '0')}:00.000Z`,
        kind: 'diagnostic' as const,
        message: i === 3 ? huge : `event ${i}: ${HOSTILE}`,
      })),
      outcome: huge,
    });
    const ref = await slack.publishIncidentCard({ incident });
    assert.ok(ref);
    const posted = stand.message(ref.channel, ref.ts);
    assert.ok(posted, 'the stand-in stored the card');
    assert.equal(stand.callsOf('chat.postMessage').at(-1)?.status, 200);
    assert.equal(stand.callsOf('chat.postMessage').at(-1)?.token, TOKEN, 'token sent as Bearer');
    assert.ok(posted.blocks!.length <= SLACK_LIMITS.blocks, `${posted.blocks!.length} blocks`);
    for (const text of texts(posted.blocks)) {
      assert.ok(text.length <= SLACK_LIMITS.sectionText, `a text of ${text.length} characters`);
      assert.doesNotMatch(text, /<!channel>|<@U0VICTIM>|<https:\/\/evil|<!subteam\^S0ALL>/, 'no injected markup');
      assert.doesNotMatch(text, /&[a-z]{0,3}…/, 'no entity cut in half');
    }
    assert.match(JSON.stringify(posted.blocks), /&lt;!channel&gt;/);
    assert.ok(posted.text && posted.text.length > 0, 'text fallback present');

    const updated = await slack.publishIncidentCard({
      incident: { ...incident, status: 'acknowledged', gates: [], timeline: [] },
      ref,
    });
    assert.deepEqual(updated, ref, 'the same card');
    assert.equal(posted.versions.length, 2, 'chat.update changed it in place');
    assert.match(posted.text ?? '', /acknowledged/);
    assert.equal(stand.channelMessages(CHANNEL).filter((m) => m.ts === ref.ts).length, 1);
  });

  test('a retried first post finds the card an earlier attempt posted and updates it, not a second card', async () => {
    const channel = 'C0RETRIED';
    const logs: string[] = [];
    const slack = createSlackActivities({ client: web, defaultChannel: channel, log: (line) => logs.push(line) });
    const incident = record();
    // Attempt 1 reached Slack, then the worker died before Temporal heard of it.
    const first = await slack.publishIncidentCard({ incident });
    assert.ok(first);
    // Without channels:history in that channel (the bot not invited), a second card is the lesser harm.
    const uninvited: SlackMessageRef | undefined = await new MockActivityEnvironment({ attempt: 2 }).run(
      slack.publishIncidentCard,
      { incident },
    );
    assert.ok(uninvited && uninvited.ts !== first.ts);
    assert.match(logs.join('\n'), /could not look for an earlier card .*not_in_channel/);
    stand.botChannels.add(channel);
    const other = await slack.publishIncidentCard({ incident: record({ id: 'INC-OTHER' }) });
    const retried = await new MockActivityEnvironment({ attempt: 2 }).run(slack.publishIncidentCard, {
      incident: record({ status: 'acknowledged' }),
    });
    assert.deepEqual(retried, uninvited, 'the newest card of this incident, found by its metadata');
    assert.notDeepEqual(retried, other, "another incident's card is not taken");
    assert.equal(stand.channelMessages(channel).length, 3, 'no card posted by the retry');
    assert.match(stand.message(channel, uninvited.ts)?.text ?? '', /acknowledged/, 'updated in place');
  });

  test('a card deleted in Slack is posted again instead of failing forever', async () => {
    const slack = createSlackActivities({ client: web, defaultChannel: CHANNEL, log: () => undefined });
    const gone: SlackMessageRef = { channel: CHANNEL, ts: '1000000000.000001' };
    const ref = await slack.publishIncidentCard({ incident: record(), ref: gone });
    assert.ok(ref && ref.ts !== gone.ts);
    assert.ok(stand.message(CHANNEL, ref.ts));
  });

  test('gate buttons: approve/reject with confirm dialogs, one button per choice, a select for many', () => {
    const key = { workflowId: 'incident:p0-response:shop/checkout', incidentId: 'INC-1' };
    const card = renderIncidentCard(
      record({
        gates: [
          gate('plain'),
          gate('few', { choices: ['1', '2'] }),
          gate('many', { choices: ['1', '2', '3', '4', '5', '6'] }),
        ],
      }),
      key,
    );
    const actions = card.blocks.filter((b) => b.type === 'actions') as unknown as Array<{
      elements: Record<string, unknown>[];
    }>;
    const [plain, few, many, ack] = actions;
    assert.deepEqual(
      plain!.elements.map((e) => [e.type, (e.text as { text: string }).text, Boolean(e.confirm)]),
      [
        ['button', 'Approve', true],
        ['button', 'Reject', true],
      ],
    );
    assert.deepEqual(
      few!.elements.map((e) => (e.text as { text: string }).text),
      ['Approve 1', 'Approve 2', 'Reject'],
    );
    assert.equal(many!.elements[0]!.type, 'static_select');
    assert.equal((many!.elements[0]!.options as unknown[]).length, 6);
    assert.equal((ack!.elements[0]!.text as { text: string }).text, 'Acknowledge');
    const ids = actions.flatMap((a) => a.elements.map((e) => String(e.action_id)));
    assert.equal(new Set(ids).size, ids.length, 'action ids are unique');
    assert.ok(ids.every((id) => id.startsWith('fb:') && id.length <= 255));
  });
});

describe('click payloads', () => {
  test('a choice picked in a select is read through the Reject button beside it', () => {
    const key = { workflowId: 'incident:emergency-rollback:shop/checkout', incidentId: 'INC-1' };
    const choices = ['1', '2', '3', '4', '5', '6'];
    const block = gateActions(key, gate('confirm-rollback', { choices })) as unknown as {
      block_id: string;
      elements: Array<{ action_id: string; type: string }>;
    };
    const select = block.elements[0]!;
    assert.equal(select.type, 'static_select');
    const payload = {
      type: 'block_actions',
      user: { id: 'U0CAROL', username: 'carol' },
      message: { ts: '1.2', blocks: [block] },
      actions: [
        {
          action_id: select.action_id,
          block_id: block.block_id,
          type: 'static_select',
          selected_option: { value: '4' },
        },
      ],
    };
    const parsed = parseInteraction(new URLSearchParams({ payload: JSON.stringify(payload) }));
    assert.equal(parsed.kind, 'actions');
    if (parsed.kind !== 'actions') return;
    assert.deepEqual(parsed.clicks, [
      {
        actionId: select.action_id,
        value: { w: key.workflowId, i: 'INC-1', kind: 'decide', g: 'confirm-rollback', d: 'approve' },
        choiceIndex: 4,
      },
    ]);
  });
});

describe('thread, approvals and escalations', () => {
  test('replies go to the thread in order; approvals broadcast; escalations mention only configured ids', async () => {
    const slack = createSlackActivities({ client: web, defaultChannel: CHANNEL, log: () => undefined });
    const ref = (await slack.publishIncidentCard({ incident: record() }))!;
    for (let i = 0; i < 3; i++) {
      await slack.postTimelineEntry({
        incidentId: 'INC-1',
        ref,
        entry: { at: '2026-11-21T05:20:00.000Z', kind: 'diagnostic', message: `line ${i}\npod-a Running ${HOSTILE}` },
      });
    }
    const request = await slack.postApprovalRequest({ incidentId: 'INC-1', ref, gate: gate('restart') });
    await slack.closeApprovalRequest({
      incidentId: 'INC-1',
      request,
      gate: gate('restart', {
        status: 'approved',
        decidedBy: { id: 'U0CAROL', name: 'carol' },
        decidedAt: '2026-11-21T05:21:00.000Z',
      }),
    });
    await slack.postEscalation({
      incidentId: 'INC-1',
      ref,
      tier: 'on-call',
      mentions: ['U0ONCALL', 'S0SRE', 'not-an-id', '<!channel>'],
      text: `ESCALATION ${HOSTILE}`,
    });
    const thread = stand.thread(CHANNEL, ref.ts);
    assert.equal(thread.length, 5);
    assert.deepEqual(
      thread.slice(0, 3).map((m) => m.text?.split('\n')[0]),
      ['diagnostic: line 0', 'diagnostic: line 1', 'diagnostic: line 2'],
    );
    const approval = thread[3]!;
    assert.equal(approval.reply_broadcast, true);
    assert.equal(approval.versions.length, 2);
    const closed = JSON.stringify(approval.blocks);
    assert.match(closed, /Approved by <@U0CAROL> at <!date\^/);
    assert.doesNotMatch(closed, /"actions"/, 'buttons removed once decided');
    const escalation = thread[4]!;
    assert.match(escalation.text ?? '', /^:loudspeaker: <@U0ONCALL> <!subteam\^S0SRE> ESCALATION &lt;!channel&gt;/);
    assert.doesNotMatch(escalation.text ?? '', /not-an-id|<!channel>/);
  });
});

describe('errors map onto Temporal retries', () => {
  test('429 → retryable RATE_LIMITED with nextRetryDelay = Retry-After', async () => {
    const slack = createSlackActivities({ client: web, defaultChannel: CHANNEL, log: () => undefined });
    stand.failNext('chat.postMessage', 1, { retryAfter: '7' });
    await assert.rejects(slack.publishIncidentCard({ incident: record() }), (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure);
      assert.equal(err.type, ErrorType.RATE_LIMITED);
      assert.equal(err.nonRetryable, false);
      assert.equal(err.nextRetryDelay, 7000);
      return true;
    });
    assert.equal(stand.callsOf('chat.postMessage').at(-1)?.status, 429, 'one call, no client-side retry');
  });

  test('invalid_auth and channel_not_found → non-retryable PROVIDER_REJECTED', async () => {
    const bad = new WebClient('xoxb-wrong', { slackApiUrl: stand.apiUrl, retryConfig: { retries: 0 } });
    const slack = createSlackActivities({ client: bad, defaultChannel: CHANNEL, log: () => undefined });
    for (const [activity, channel] of [
      [slack, CHANNEL],
      [createSlackActivities({ client: web, defaultChannel: 'not-a-channel' }), 'not-a-channel'],
    ] as const) {
      await assert.rejects(activity.publishIncidentCard({ incident: record(), channel }), (err: unknown) => {
        assert.ok(err instanceof ApplicationFailure);
        assert.equal(err.type, ErrorType.PROVIDER_REJECTED);
        assert.equal(err.nonRetryable, true);
        assert.match(err.message, /invalid_auth|channel_not_found/);
        return true;
      });
    }
  });

  test('5xx and internal_error → plain (retryable) errors', async () => {
    const slack = createSlackActivities({ client: web, defaultChannel: CHANNEL, log: () => undefined });
    stand.failNext('chat.postMessage', 1, { status: 503 });
    await assert.rejects(slack.publishIncidentCard({ incident: record() }), (err: unknown) => {
      assert.ok(!(err instanceof ApplicationFailure), 'a plain error: Temporal retries it with backoff');
      return true;
    });
    stand.failNext('chat.postMessage', 1, { error: 'internal_error' });
    await assert.rejects(slack.publishIncidentCard({ incident: record() }), (err: unknown) => {
      assert.ok(!(err instanceof ApplicationFailure));
      assert.match((err as Error).message, /internal_error/);
      return true;
    });
  });

  test('without Slack, everything goes to the log and nothing fails', async () => {
    const lines: string[] = [];
    const slack = createSlackActivities({ client: null, log: (line) => lines.push(line) });
    const calls = stand.calls.length;
    assert.equal(await slack.publishIncidentCard({ incident: record() }), undefined);
    await slack.postTimelineEntry({ incidentId: 'INC-1', entry: { at: 'x', kind: 'note', message: 'hello' } });
    await slack.postApprovalRequest({ incidentId: 'INC-1', gate: gate('restart') });
    await slack.postEscalation({ incidentId: 'INC-1', tier: 'on-call', mentions: ['U0ONCALL'], text: 'paged' });
    assert.equal(stand.calls.length, calls, 'no Slack call');
    assert.equal(lines.length, 4);
    assert.match(lines[2]!, /firebreak approve\|reject INC-1 --gate restart/);
  });
});

describe('escaping and truncation', () => {
  test('escapes the three control characters, and truncation never splits an entity or a surrogate pair', () => {
    assert.equal(escapeMrkdwn('a & <b> c'), 'a &amp; &lt;b&gt; c');
    for (let max = 2; max < 30; max++) {
      const cut = truncateText(escapeMrkdwn('<<<&&&>>> 🔥🔥🔥 <<<'), max);
      assert.ok(cut.length <= max);
      assert.doesNotMatch(cut, /&[a-z]{0,3}…$/);
      assert.doesNotMatch(cut, /[\uD800-\uDBFF]…$/);
    }
  });
});

describe('request verification', () => {
  const secret = 'shhh';
  const body = 'command=%2Fincident&text=list';
  const now = 1_800_000_000_000;
  const sign = (ts: number, text = body, key = secret) =>
    `v0=${createHmac('sha256', key).update(`v0:${ts}:${text}`).digest('hex')}`;
  const check = (ts: number, signature: string | undefined, timestamp: string | undefined = String(ts)) =>
    verifySlackSignature({ signingSecret: secret, timestamp, signature, rawBody: body, nowMs: now });

  test('accepts a good signature within 300 s either way', () => {
    const t = now / 1000;
    for (const ts of [t, t - 300, t + 300]) assert.deepEqual(check(ts, sign(ts)), { ok: true });
    assert.deepEqual(signSlackRequest(secret, body, t)['x-slack-signature'], sign(t));
  });

  test('refuses stale, future, forged, tampered and missing', () => {
    const t = now / 1000;
    assert.match(String((check(t - 301, sign(t - 301)) as { reason: string }).reason), /5 minutes/);
    assert.match(String((check(t + 301, sign(t + 301)) as { reason: string }).reason), /5 minutes/);
    assert.equal(check(t, sign(t, body, 'other')).ok, false);
    assert.equal(check(t, sign(t, `${body}&x=1`)).ok, false);
    assert.equal(check(t, sign(t).replace('v0=', 'v1=')).ok, false);
    assert.equal(check(t, undefined).ok, false);
    assert.equal(check(t, sign(t), 'yesterday').ok, false);
  });
});

describe('command grammar', () => {
  test('runbooks, targets, positional revision, options and severity', () => {
    const p0 = parseRunbookCommand('p0 shop/checkout healthUrl=http://checkout/healthz --severity p1');
    assert.equal(p0.kind, 'start');
    if (p0.kind === 'start') {
      assert.deepEqual(p0.targets, [{ namespace: 'shop', deployment: 'checkout' }]);
      assert.equal(p0.severity, 'P1');
      assert.deepEqual(p0.params, { healthUrl: 'http://checkout/healthz' });
    }
    const rollback = parseRunbookCommand('rollback shop/checkout 3');
    assert.ok(rollback.kind === 'start' && rollback.params.revision === '3');
    const avalanche = parseRunbookCommand('avalanche shop/a,b,c replicas=5');
    assert.ok(avalanche.kind === 'start' && avalanche.targets.length === 3);
    assert.equal(parseRunbookCommand('').kind, 'catalog');
    for (const bad of [
      'p0',
      'p0 checkout',
      'p0 shop/a,b',
      'p0 shop/x bogus=1',
      'nope shop/x',
      'p0 shop/x severity=P9',
    ]) {
      assert.equal(parseRunbookCommand(bad).kind, 'usage', bad);
    }
    const rehearsal = parseRunbookCommand('rollback shop/checkout 3 --dry-run');
    assert.ok(rehearsal.kind === 'start' && rehearsal.params.revision === '3');
    assert.deepEqual(rehearsal.kind === 'start' && rehearsal.rehearsal, { skipGates: false });
    // A phone turns `--` into a dash; `--yes` skips the gates of a rehearsal.
    const skipping = parseRunbookCommand('oom shop/api \u2014dry-run --yes');
    assert.deepEqual(skipping.kind === 'start' && skipping.rehearsal, { skipGates: true });
    const real = parseRunbookCommand('p0 shop/checkout');
    assert.ok(real.kind === 'start' && real.rehearsal === undefined, 'no flag, no rehearsal');
    const yesAlone = parseRunbookCommand('p0 shop/checkout --yes');
    assert.ok(yesAlone.kind === 'usage' && /--yes only goes with --dry-run/.test(yesAlone.problem));
    assert.deepEqual(parseIncidentCommand('ack INC-1 on it'), { kind: 'ack', id: 'INC-1', note: 'on it' });
    assert.deepEqual(parseIncidentCommand(''), { kind: 'list', all: false });
    assert.equal(parseIncidentCommand('resolve').kind, 'help');
  });
});

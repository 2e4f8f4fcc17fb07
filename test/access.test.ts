/**
 * Who may do what, through the channels people use: signed Slack requests to the real ingress and
 * the `firebreak` CLI, against the real dev server and the real runbook workflows (typed fakes for
 * Kubernetes). One config file, read by both, gives permissions, people and an N-of-M gate.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Client, Connection } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { runCliCaptured } from './cli-support';
import { ErrorType } from '../common/errors';
import { incidentPolicy, parseFileConfig } from '../config/file';
import { decideUpdate, refusedSignal, statusQuery } from '../domain/messages';
import { recentRefusalsQuery, REFUSAL_LOG_WORKFLOW_TYPE, refusalLogWorkflowId } from '../domain/refusals';
import { IngressMetrics } from '../ingress/metrics';
import type { SlackIngressContext } from '../ingress/slack/context';
import { createSinks } from '../worker/sinks';
import type { SlackStandIn } from './bed/slack-standin';
import { runTestWorker, testTemporalAddress, uniqueTaskQueue, type TestWorker } from './bed/worker';
import { buildSlackApp, runSlackWorker, startSlackBed, stopSlackBed, workflowExists } from './slack-support';
import { buttons, SlackDriver } from './slack-driver';
import { FakeWorld } from './workflows/fakes';
import {
  byIncident,
  fastPolicy,
  gatePending,
  refusedWith,
  startIncident,
  uniqueTarget,
  waitForRecord,
} from './workflows/harness';

const SECRET = 'firebreak-access-signing-secret';
const TOKEN = 'xoxb-firebreak-access';
const CHANNEL = 'C0ACCESS';
const ALICE = { id: 'U0ALICE', name: 'alice' };
const BOB = { id: 'U0BOB', name: 'bob' };
const CAROL = { id: 'U0CAROL', name: 'carol' };
const DAVE = { id: 'U0DAVE', name: 'dave' };
const MALLORY = { id: 'U0MALLORY', name: 'mallory' };

const CONFIG = `
people:
  alice: { slack: U0ALICE, cli: alice }
  bob: { slack: U0BOB, cli: bob }
  carol: { slack: U0CAROL, cli: carol }
  dave: { slack: U0DAVE, cli: dave }
permissions:
  start:
    - who: [S0SRE, dave]
  approve:
    - gates: [confirm-rollback]
      namespaces: ['prod-*']
      who: [S0LEADS]
      quorum: 2
    - who: [S0LEADS, S0SRE]
  resolve: [S0LEADS]
`;

let stand: SlackStandIn;
let client: Client;
let connection: Connection;
let worker: TestWorker;
let app: FastifyInstance;
let ctx: SlackIngressContext;
let workDir: string;
let configPath: string;
const world = new FakeWorld();
const taskQueue = uniqueTaskQueue('access');
// One registry for worker and ingress, as in `firebreak start`: the CLI's refusals, counted by the
// workflows, show on the same /metrics as Slack's.
const metrics = new IngressMetrics();
const filePolicy = incidentPolicy(parseFileConfig(CONFIG));
const policy = fastPolicy({
  approvers: filePolicy.approvers,
  access: filePolicy.access!,
  gateEscalateAfterMs: 120_000,
  gateDeadlineMs: 120_000,
});
const slack = new SlackDriver(() => ({ app, stand }), { secret: SECRET, channel: CHANNEL, user: DAVE });

const workerOptions = {
  token: TOKEN,
  channel: CHANNEL,
  world,
  rejectRateLimitedCalls: false,
  taskQueue,
  stickyQueueScheduleToStartTimeout: '1s',
  sinks: createSinks(metrics.accessRefusals),
};

/** The worker again, after a test stopped it. */
function startWorker(): Promise<TestWorker> {
  return runSlackWorker({ ...workerOptions, stand });
}

before(async () => {
  const bed = await startSlackBed(workerOptions);
  ({ stand, client, connection, worker } = bed);
  stand.usergroups.set('S0SRE', [DAVE.id, ALICE.id]);
  stand.usergroups.set('S0LEADS', [ALICE.id, BOB.id, CAROL.id]);
  workDir = await mkdtemp(path.join(tmpdir(), 'firebreak-access-'));
  configPath = path.join(workDir, 'firebreak.yaml');
  await writeFile(configPath, CONFIG);
  app = await buildSlackApp(bed, {
    env: { SLACK_SIGNING_SECRET: SECRET },
    config: parseFileConfig(CONFIG),
    policy,
    metrics,
    routes: { onContext: (c) => (ctx = c) },
  });
});

after(async () => {
  await stopSlackBed({ app, worker, connection, stand });
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

async function cli(args: string[], user: string, env: NodeJS.ProcessEnv = {}) {
  return runCliCaptured(args, {
    TEMPORAL_ADDRESS: testTemporalAddress(),
    TEMPORAL_NAMESPACE: process.env.FIREBREAK_TEST_TEMPORAL_NAMESPACE ?? 'default',
    FIREBREAK_TASK_QUEUE: taskQueue,
    FIREBREAK_CONFIG: configPath,
    FIREBREAK_USER: user,
    // The CLI looks up its person's Slack groups as the ingress does (the env needs both Slack secrets).
    SLACK_BOT_TOKEN: TOKEN,
    SLACK_SIGNING_SECRET: SECRET,
    SLACK_API_URL: stand.apiUrl,
    ...env,
  });
}

async function refusalCount(action: string, channel: string): Promise<number> {
  const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`firebreak_access_refusals_total{action="${action}",channel="${channel}"}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

/** Waits until the refusal counter reaches `expected` (the worker counts the CLI's after its signal). */
async function refusalCountReaches(action: string, channel: string, expected: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  let seen = await refusalCount(action, channel);
  while (seen < expected && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    seen = await refusalCount(action, channel);
  }
  assert.equal(seen, expected, `firebreak_access_refusals_total{action="${action}",channel="${channel}"}`);
}

const t = (target: { namespace: string; deployment: string }) => `${target.namespace}/${target.deployment}`;

describe('permissions', () => {
  test('someone outside the start list is refused in Slack and in the CLI, and nothing starts', async () => {
    const target = t(uniqueTarget('guarded'));
    const before = await refusalCount('start', 'slack');
    const { res } = await slack.command(`p0 ${target} severity=P0`, { user: MALLORY });
    assert.equal(res.statusCode, 200);
    const answer = res.json();
    assert.equal(answer.response_type, 'ephemeral');
    assert.match(answer.text, /You may not start \*P0 incident response\* in `shop`; nothing was started/);
    assert.equal(await refusalCount('start', 'slack'), before + 1);

    const beforeCli = await refusalCount('start', 'cli');
    const refused = await cli(['run', 'p0-response', '--target', target, '--no-wait'], 'mallory');
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /refused: cli:mallory may not start p0-response in shop/);
    await ctx.drain();
    assert.equal(await workflowExists(client, `incident:p0-response:${target}`), false, 'no incident was started');
    // No incident to record it on: the refusal log keeps it, and the worker counts it on /metrics.
    await refusalCountReaches('start', 'cli', beforeCli + 1);
    const logged = await client.workflow.getHandle(refusalLogWorkflowId(taskQueue)).query(recentRefusalsQuery);
    // This file's task queue has a log of its own: this refusal is its only entry.
    assert.deepEqual(
      logged.map((r) => [r.actor.id, r.action, r.channel, r.reason]),
      [
        [
          'cli:mallory',
          'start',
          'cli',
          'cli:mallory may not start p0-response in shop (permissions.start); nothing was started',
        ],
      ],
    );
    assert.equal(await refusalCount('start', 'slack'), before + 1, 'the Slack refusal is counted once');

    // Dave may: by his Slack account (a member of S0SRE) and by his CLI account (a person of the rule).
    const started = await cli(['run', 'p0-response', '--target', target, '--no-wait'], 'dave');
    assert.equal(started.code, 0, started.stderr);
    const handle = client.workflow.getHandle(`incident:p0-response:${target}`);
    await waitForRecord(handle, (r) => r.timeline.length > 0);
    await handle.terminate('test over');
  });
});

describe('permissions for rehearsals', () => {
  test('a rehearsal (--dry-run) needs the same start permission: refused in Slack and the CLI, nothing starts', async () => {
    const target = t(uniqueTarget('rehearsed'));
    const { res } = await slack.command(`p0 ${target} severity=P0 --dry-run`, { user: MALLORY });
    assert.equal(res.statusCode, 200);
    assert.match(res.json().text, /You may not start \*P0 incident response\* in `shop`; nothing was started/);
    const refused = await cli(['run', 'p0-response', '--target', target, '--dry-run', '--yes', '--no-wait'], 'mallory');
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /refused: cli:mallory may not start p0-response in shop/);
    await ctx.drain();
    assert.equal(await workflowExists(client, `rehearsal:p0-response:${target}`), false, 'no rehearsal was started');
  });
});

describe('N-of-M approvals', () => {
  test('a 2-of-3 gate opens on two people only: not one clicking twice, not one via Slack and the CLI; a worker restart in between loses nothing', async () => {
    const target = `prod-${Math.random().toString(36).slice(2, 8)}/api`;
    const workflowId = `incident:emergency-rollback:${target}`;
    const { res, responseId } = await slack.command(`rollback ${target}`, { user: DAVE });
    assert.equal(res.statusCode, 200, res.body);
    await slack.responseFor(responseId);
    const handle = client.workflow.getHandle(workflowId);
    const opened = await waitForRecord(handle, gatePending('confirm-rollback'));
    const gate = opened.gates[0]!;
    assert.equal(gate.quorum, 2);
    assert.deepEqual(gate.approvers, ['S0LEADS']);

    const posted = await slack.card(target);
    const request = await stand.waitFor('the rollback approval request', () =>
      stand
        .thread(CHANNEL, posted.ts)
        .find((m) => buttons(m).some((b) => b.action_id.includes(':confirm-rollback:approve:'))),
    );
    const pick = buttons(request)
      .filter((b) => b.action_id.includes(':confirm-rollback:approve:'))
      .at(-1)!;
    const choice = gate.choices!.at(-1)!;

    // Dave asked for it and is no lead: refused, and the refusal is on the timeline.
    const slackBefore = await refusalCount('approve', 'slack');
    const cliBefore = await refusalCount('approve', 'cli');
    await slack.postInteraction(slack.click(DAVE, request, pick).body);
    await stand.waitFor('a refusal for dave', () => stand.ephemerals.find((e) => e.user === DAVE.id));
    await waitForRecord(handle, (r) => r.timeline.some((e) => /Refused: dave may not approve/.test(e.message)));
    // Counted by the ingress, recorded by the workflow, and not counted again there.
    assert.equal(await refusalCount('approve', 'slack'), slackBefore + 1);

    // Alice approves, then clicks again: one approval.
    await slack.postInteraction(slack.click(ALICE, request, pick).body);
    await waitForRecord(handle, (r) => r.gates[0]!.approvals?.length === 1);
    await stand.waitFor('alice told 1 of 2', () =>
      stand.ephemerals.find((e) => e.user === ALICE.id && /recorded: 1 of 2/.test(e.text ?? '')),
    );
    await slack.postInteraction(slack.click(ALICE, request, pick).body);
    await ctx.drain();
    await stand.waitFor('the card to show the first approval', () =>
      JSON.stringify(posted.blocks).includes('2 approvals from different people (1 so far: <@U0ALICE>)'),
    );

    // Alice again through her CLI account: the same person, refused (exit 1).
    const again = await cli(['approve', workflowId, '--gate', 'confirm-rollback', '--choice', choice], 'alice');
    assert.equal(again.code, 1, again.stdout);
    assert.match(again.stderr, /alice already approved gate confirm-rollback/);
    // The workflow refused it; the CLI told it so; the worker counted it.
    await refusalCountReaches('approve', 'cli', cliBefore + 1);
    assert.equal(await refusalCount('approve', 'slack'), slackBefore + 1);

    // The worker goes away and comes back: the approval so far is in the history.
    await worker.stop();
    worker = await startWorker();
    const afterRestart = await waitForRecord(handle, (r) => r.gates[0]!.approvals?.length === 1);
    assert.equal(afterRestart.gates[0]!.status, 'pending');
    assert.equal(world.made('rolloutUndo', byIncident(opened.id)).length, 0, 'nothing rolled back');

    // Bob, a second lead, through the CLI: the gate opens.
    const second = await cli(['approve', workflowId, '--gate', 'confirm-rollback', '--choice', choice], 'bob');
    assert.equal(second.code, 0, second.stderr);
    const decided = await waitForRecord(handle, (r) => r.gates[0]!.status === 'approved');
    const approvals = decided.gates[0]!.approvals!;
    assert.deepEqual(
      approvals.map((a) => a.actor.id),
      [ALICE.id, 'cli:bob'],
    );
    assert.equal(decided.gates[0]!.choice, choice);
    await waitForRecord(handle, () => world.made('rolloutUndo', byIncident(opened.id)).length === 1);
    const timeline = decided.timeline.map((e) => e.message).join('\n');
    assert.match(timeline, /approval 1 of 2 by alice/);
    assert.match(timeline, /Refused: dave may not approve/);
    assert.match(timeline, /Refused: alice may not approve \(.*already approved/);
    await handle.terminate('test over');
  });

  test('any rejection ends a quorum gate, whatever approvals came before', async () => {
    const target = { namespace: `prod-${Math.random().toString(36).slice(2, 8)}`, deployment: 'web' };
    const handle = await startIncident(client, taskQueue, {
      runbook: 'emergency-rollback',
      targets: [target],
      policy,
      triggeredBy: DAVE,
    });
    const record = await waitForRecord(handle, gatePending('confirm-rollback'));
    const choice = record.gates[0]!.choices!.at(-1)!;
    const lead = (actor: typeof ALICE) => ({ ...actor, groups: ['S0LEADS'] });
    await handle.executeUpdate(decideUpdate, {
      args: [{ gate: 'confirm-rollback', decision: 'approve', actor: lead(ALICE), choice }],
    });
    await handle.executeUpdate(decideUpdate, {
      args: [{ gate: 'confirm-rollback', decision: 'reject', actor: lead(CAROL) }],
    });
    const done = await waitForRecord(handle, (r) => r.gates[0]!.status === 'rejected');
    assert.equal(done.gates[0]!.decidedBy?.id, CAROL.id);
    await assert.rejects(
      handle.executeUpdate(decideUpdate, {
        args: [{ gate: 'confirm-rollback', decision: 'approve', actor: lead(BOB), choice }],
      }),
      (err) => refusedWith(ErrorType.GATE_CLOSED)(err) || refusedWith(ErrorType.INCIDENT_CLOSED)(err),
    );
    await handle.terminate('test over');
  });
});

describe('CLI identity', () => {
  test('under the strict policy a self-declared CLI identity may not decide a four-eyes gate', async () => {
    const strict = { ...policy, access: { ...policy.access!, requireProvenCliIdentity: true } };
    const handle = await startIncident(client, taskQueue, {
      runbook: 'emergency-rollback',
      targets: [uniqueTarget('strict')],
      policy: strict,
      triggeredBy: DAVE,
    });
    const record = await waitForRecord(handle, gatePending('confirm-rollback'));
    assert.equal(record.gates[0]!.fourEyes, true);
    const choice = record.gates[0]!.choices!.at(-1)!;
    const cliBefore = await refusalCount('approve', 'cli');
    const refused = await cli(['approve', handle.workflowId, '--choice', choice], 'carol');
    assert.equal(refused.code, 1, refused.stdout);
    await refusalCountReaches('approve', 'cli', cliBefore + 1);
    assert.match(refused.stderr, /needs a CLI identity proven by the Temporal connection.*cli:carol is self-declared/);
    const after = await handle.query(statusQuery);
    assert.equal(after.gates[0]!.status, 'pending');
    assert.match(after.timeline.map((e) => e.message).join('\n'), /Refused: carol may not approve/);
    // A Slack account of a lead is not affected by the CLI policy.
    const slackLead = { ...ALICE, groups: ['S0LEADS'] };
    const decided = await handle.executeUpdate(decideUpdate, {
      args: [{ gate: 'confirm-rollback', decision: 'approve', actor: slackLead, choice }],
    });
    assert.equal(decided.status, 'approved');
    await handle.terminate('test over');
  });
});

describe('the refusal log', () => {
  test('keeps the last 50, bounded; counts what no one counted, under fixed labels whatever is sent', async () => {
    const queue = uniqueTaskQueue('refusal-log');
    const logWorker = await runTestWorker({
      taskQueue: queue,
      activities: {},
      sinks: createSinks(metrics.accessRefusals),
    });
    try {
      const before = {
        cliStart: await refusalCount('start', 'cli'),
        otherCli: await refusalCount('other', 'cli'),
        slackStart: await refusalCount('start', 'slack'),
      };
      const handle = await client.workflow.signalWithStart(REFUSAL_LOG_WORKFLOW_TYPE, {
        workflowId: refusalLogWorkflowId(queue),
        taskQueue: queue,
        args: [{}],
        signal: refusedSignal,
        signalArgs: [{ actor: { id: 'cli:first' }, action: 'start', reason: 'the first', channel: 'cli' }],
      });
      for (let i = 0; i < 55; i++) {
        await handle.signal(refusedSignal, {
          actor: { id: `cli:${'x'.repeat(500)}` },
          action: i % 5 === 0 ? 'drop tables' : 'start',
          reason: 'r'.repeat(10_000),
          channel: i % 5 === 0 ? 'carrier-pigeon' : 'cli',
        });
      }
      // Counted by the ingress already: recorded, not counted.
      await handle.signal(refusedSignal, { actor: ALICE, action: 'start', reason: 'last', counted: true });
      let kept = await handle.query(recentRefusalsQuery);
      const deadline = Date.now() + 30_000;
      while (kept.at(-1)?.reason !== 'last' && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        kept = await handle.query(recentRefusalsQuery);
      }
      assert.equal(kept.length, 50);
      assert.equal(kept.at(-1)!.channel, 'slack');
      assert.ok(kept.every((r) => r.actor.id.length <= 100 && r.reason.length <= 300 && r.action.length <= 40));
      // The first, and 44 of the 55; an unknown action is `other`, an unknown channel read from the actor.
      await refusalCountReaches('start', 'cli', before.cliStart + 45);
      assert.equal(await refusalCount('other', 'cli'), before.otherCli + 11);
      assert.equal(await refusalCount('start', 'slack'), before.slackStart, 'counted: true is not counted again');
      await handle.terminate('test over');
    } finally {
      await logWorker.stop();
    }
  });
});

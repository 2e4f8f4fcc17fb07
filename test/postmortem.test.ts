/**
 * Postmortems exported from real histories: each runbook's real workflow (the bundle) runs on the
 * shared dev server with typed fake activities, is driven to its end through its messages, and
 * the export is checked against what the `temporal` CLI itself shows for the same workflow.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import type { Client, Connection, WorkflowHandle } from '@temporalio/client';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { deliverAlert } from '../client/incidents';
import type { IncidentRecord } from '../common/types';
import { prepareIncident } from '../runbooks';
import { buildPostmortem, exportPostmortem, fetchHistoryEvents, renderMarkdown } from '../postmortem';
import { POSTMORTEM_SCHEMA_VERSION, type Postmortem } from '../postmortem/model';
import { REDACTED, redact, redactText } from '../postmortem/redact';
import { ensureTemporalBinary } from '../scripts/temporal-bin';
import { acknowledgeUpdate, decideUpdate, resolveSignal, type AlertNotification } from '../domain/messages';
import {
  connectTestClient,
  runTestWorker,
  testNamespace,
  testTemporalAddress,
  uniqueTaskQueue,
  type TestWorker,
} from './bed/worker';
import { FakeWorld } from './workflows/fakes';
import {
  ALICE,
  BOB,
  fastPolicy,
  gatePending,
  resolveAndRestore,
  startIncident,
  uniqueTarget,
  waitForRecord,
} from './workflows/harness';

const execFileAsync = promisify(execFile);

let client: Client;
let connection: Connection;
let worker: TestWorker;
const world = new FakeWorld({ health: [true] });
/** Gates wait long enough for the test to decide; the first gate escalation comes after 1 s. */
const policy = fastPolicy({ gateDeadlineMs: 60_000, gateEscalateAfterMs: 1_000, restoreAfterMs: 60_000 });
const SECRET = 's3cr3t-health-token';

type Handle = WorkflowHandle<(input: unknown) => Promise<IncidentRecord>>;

before(async () => {
  ({ client, connection } = await connectTestClient());
  worker = await runTestWorker({ activities: world.activities(), taskQueue: uniqueTaskQueue('postmortem') });
});

after(async () => {
  await worker?.stop();
  await connection?.close();
});

interface ShownEvent {
  eventId: string;
  eventType: string;
  [attributes: string]: unknown;
}

/** The reference: `temporal workflow show -w <id> -o json` against the same server. */
async function temporalShow(workflowId: string): Promise<{ events: ShownEvent[] }> {
  const binary = await ensureTemporalBinary(() => undefined);
  const { stdout } = await execFileAsync(
    binary,
    [
      'workflow',
      'show',
      '-w',
      workflowId,
      '--address',
      testTemporalAddress(),
      '--namespace',
      testNamespace(),
      '-o',
      'json',
    ],
    { timeout: 30_000, maxBuffer: 64 * 1024 * 1024 },
  );
  return JSON.parse(stdout) as { events: ShownEvent[] };
}

function attrs(event: ShownEvent, name: string): Record<string, unknown> {
  return (event[name] ?? {}) as Record<string, unknown>;
}

/** Activities, decisions, signals and timers of the CLI's history, as the export should list them. */
function reference(shown: { events: ShownEvent[] }) {
  const of = (type: string) => shown.events.filter((event) => event.eventType === `EVENT_TYPE_${type}`);
  return {
    activities: of('ACTIVITY_TASK_SCHEDULED')
      .map((e) => {
        const a = attrs(e, 'activityTaskScheduledEventAttributes');
        return `${String(a.activityId)}:${String((a.activityType as { name: string }).name)}`;
      })
      .sort(),
    updates: of('WORKFLOW_EXECUTION_UPDATE_ACCEPTED')
      .map((e) => {
        const request = attrs(e, 'workflowExecutionUpdateAcceptedEventAttributes').acceptedRequest as {
          meta: { updateId: string };
        };
        return request.meta.updateId;
      })
      .sort(),
    signals: of('WORKFLOW_EXECUTION_SIGNALED').map((e) =>
      String(attrs(e, 'workflowExecutionSignaledEventAttributes').signalName),
    ),
    timers: of('TIMER_STARTED')
      .map((e) => String(attrs(e, 'timerStartedEventAttributes').timerId))
      .sort(),
    timersFired: of('TIMER_FIRED')
      .map((e) => String(attrs(e, 'timerFiredEventAttributes').timerId))
      .sort(),
    failedActivities: of('ACTIVITY_TASK_FAILED').length + of('ACTIVITY_TASK_TIMED_OUT').length,
  };
}

async function assertMatchesTemporalShow(handle: Handle, postmortem: Postmortem): Promise<void> {
  const shown = await temporalShow(handle.workflowId);
  const expected = reference(shown);
  assert.equal(postmortem.source.historyLength, shown.events.length, 'every event read');
  assert.deepEqual(postmortem.activities.map((a) => `${a.activityId}:${a.name}`).sort(), expected.activities);
  assert.deepEqual(postmortem.decisions.map((d) => d.updateId).sort(), expected.updates);
  assert.deepEqual(
    postmortem.signals.map((s) => s.name),
    expected.signals,
  );
  assert.deepEqual(postmortem.timers.map((t) => t.timerId).sort(), expected.timers);
  assert.deepEqual(
    postmortem.timers
      .filter((t) => t.outcome === 'fired')
      .map((t) => t.timerId)
      .sort(),
    expected.timersFired,
  );
  assert.equal(postmortem.failures.filter((f) => f.where === 'activity').length, expected.failedActivities);
  // The same history through the CLI's JSON gives the same postmortem, digest included.
  const fromCli = buildPostmortem(historyFromJSON(shown).events ?? [], {
    workflowId: handle.workflowId,
    runId: postmortem.source.runId,
    generatedAt: new Date(postmortem.generatedAt),
  });
  assert.deepEqual(fromCli, postmortem);
}

function assertCommonShape(postmortem: Postmortem, markdown: string, runbook: string): void {
  assert.equal(postmortem.schemaVersion, POSTMORTEM_SCHEMA_VERSION);
  assert.equal(postmortem.summary.runbook, runbook);
  assert.equal(postmortem.source.executionStatus, 'completed');
  assert.equal(postmortem.source.recordSource, 'result');
  assert.match(postmortem.source.historyDigest, /^sha256:[0-9a-f]{64}$/);
  assert.equal(postmortem.summary.status, 'resolved');
  assert.ok(postmortem.times.resolved && postmortem.times.closed);
  assert.ok(postmortem.times.mttrMs !== undefined && postmortem.times.mttrMs > 0);
  assert.equal(postmortem.checklist.length, 6);
  assert.ok(postmortem.statusChanges.some((change) => change.status === 'resolved'));
  const times = postmortem.timeline.map((item) => item.at);
  assert.deepEqual([...times].sort(), times, 'timeline in time order');
  for (const heading of [
    '## Summary',
    '## Key times',
    '```mermaid',
    'gantt',
    '## Timeline',
    '## Post-incident checklist',
  ]) {
    assert.ok(markdown.includes(heading), `markdown has ${heading}`);
  }
  assert.ok(markdown.includes('- [ ] Hold the incident retrospective (进行故障复盘)'));
  for (const activity of postmortem.activities) assert.ok(markdown.includes(`\`${activity.name}\``));
}

describe('postmortem export from real runbook histories', { concurrency: true }, () => {
  test('p0-response: gate escalation, approval, mitigation, resolution; secrets redacted', async () => {
    const handle = await startIncident(client, worker.taskQueue, {
      runbook: 'p0-response',
      severity: 'P1',
      params: { healthUrl: `http://health.local/healthz?token=${SECRET}` },
      policy,
    });
    await handle.executeUpdate(acknowledgeUpdate, { args: [{ actor: BOB, note: 'on it' }] });
    await waitForRecord(handle, gatePending('restart'));
    // Let the gate escalate once before deciding, so the export has an escalation to show.
    await waitForRecord(handle, (r) => r.escalationTier > 0, 10_000);
    await handle.executeUpdate(decideUpdate, {
      args: [{ gate: 'restart', decision: 'approve', actor: BOB, comment: 'go' }],
      updateId: 'slack-action-restart-1',
    });
    await waitForRecord(handle, (r) => r.status === 'mitigated');
    await handle.signal(resolveSignal, { actor: ALICE, note: 'checkout healthy again' });
    await handle.result();

    const { postmortem, markdown, json } = await exportPostmortem(client, { workflowId: handle.workflowId });
    assertCommonShape(postmortem, markdown, 'p0-response');
    await assertMatchesTemporalShow(handle, postmortem);

    const decision = postmortem.decisions.find((d) => d.updateId === 'slack-action-restart-1');
    assert.equal(decision?.kind, 'approve');
    assert.equal(decision?.gate, 'restart');
    assert.equal(decision?.actor?.id, BOB.id);
    assert.equal(decision?.gateStatus, 'approved');
    assert.deepEqual(
      postmortem.gates.map((g) => [g.name, g.status, g.decidedBy?.id]),
      [['restart', 'approved', BOB.id]],
    );
    assert.equal(postmortem.times.acknowledgedBy?.id, BOB.id);
    assert.ok(postmortem.times.mttaMs !== undefined && postmortem.times.mttaMs <= postmortem.times.mttrMs!);
    assert.ok(postmortem.times.mitigated);
    assert.ok(postmortem.escalations.length >= 1, 'the gate escalation is listed');
    assert.equal(postmortem.escalations[0]!.tier, 'on-call');
    assert.ok(postmortem.narrative.some((entry) => /Restart requested/.test(entry.message)));
    assert.match(markdown, /## What the runbook recorded[\s\S]*Quick diagnostics/);
    const restart = postmortem.activities.find((a) => a.name === 'rolloutRestart');
    assert.equal(restart?.outcome, 'completed');
    assert.equal(restart?.attempts, 1);
    assert.ok(restart?.durationMs !== undefined);
    // holdNotice: the deployment hold granting this incident its target, not a message from anyone.
    assert.deepEqual(
      postmortem.signals.filter((s) => s.name !== 'holdNotice').map((s) => s.summary),
      ['Resolution requested by alice (cli:alice): checkout healthy again'],
    );
    // The health URL's token is in the start input, activity inputs and results: none reach the export.
    assert.ok(!json.includes(SECRET), 'JSON export has no secret');
    assert.ok(!markdown.includes(SECRET), 'Markdown export has no secret');
    assert.ok(json.includes(`token=${REDACTED}`));
    assert.match(markdown, /Gate restart approved by bob \(U0BOB\) — "go"/);
  });

  test('emergency-rollback: four-eyes choice, unhealthy-free rollback', async () => {
    const handle = await startIncident(client, worker.taskQueue, { runbook: 'emergency-rollback', policy });
    await handle.executeUpdate(acknowledgeUpdate, { args: [{ actor: BOB }] });
    await waitForRecord(handle, gatePending('confirm-rollback'));
    await handle.executeUpdate(decideUpdate, {
      args: [{ gate: 'confirm-rollback', decision: 'approve', actor: BOB, choice: '2' }],
    });
    await waitForRecord(handle, (r) => r.status === 'mitigated');
    await handle.signal(resolveSignal, { actor: BOB });
    await handle.result();

    const { postmortem, markdown } = await exportPostmortem(client, { workflowId: handle.workflowId });
    assertCommonShape(postmortem, markdown, 'emergency-rollback');
    await assertMatchesTemporalShow(handle, postmortem);
    const decision = postmortem.decisions.find((d) => d.gate === 'confirm-rollback');
    assert.equal(decision?.choice, '2');
    const undo = postmortem.activities.find((a) => a.name === 'rolloutUndo');
    assert.equal((undo?.input as { toRevision?: number }).toRevision, 2);
    assert.deepEqual(postmortem.mitigations, []);
  });

  test('avalanche-mitigation: every temporary mitigation listed and restored', async () => {
    const targets = [uniqueTarget('frontend'), uniqueTarget('cart')];
    const handle = await startIncident(client, worker.taskQueue, {
      runbook: 'avalanche-mitigation',
      targets,
      params: { replicas: '12' },
      policy,
    });
    await waitForRecord(handle, (r) => r.status === 'mitigated');
    await resolveAndRestore(handle);
    const record = await handle.result();

    const { postmortem, markdown } = await exportPostmortem(client, { workflowId: handle.workflowId });
    assertCommonShape(postmortem, markdown, 'avalanche-mitigation');
    await assertMatchesTemporalShow(handle, postmortem);
    assert.equal(postmortem.mitigations.length, record.mitigations.length);
    assert.equal(postmortem.mitigations.length, targets.length * 3);
    assert.ok(postmortem.mitigations.every((m) => m.restored && m.restoredAt));
    const replicas = postmortem.mitigations.find((m) => m.change.kind === 'replicas');
    assert.deepEqual(replicas?.change, { kind: 'replicas', previous: 3, applied: 12 });
    assert.equal(postmortem.timeline.filter((item) => item.kind === 'restoration').length, targets.length * 3);
    assert.match(markdown, /\| yes, 20/);
    // No acknowledgement: the ack timer is listed as pending-then-cancelled, and MTTA is absent.
    assert.equal(postmortem.times.acknowledged, undefined);
    assert.equal(postmortem.times.mttaMs, undefined);
  });

  test('oom-triage: the extreme-case gate rejected, mitigations restored automatically', async () => {
    const handle = await startIncident(client, worker.taskQueue, {
      runbook: 'oom-triage',
      policy: fastPolicy({ gateDeadlineMs: 60_000, gateEscalateAfterMs: 30_000, restoreAfterMs: 1_000 }),
    });
    await waitForRecord(handle, gatePending('disable-trace-export'));
    await handle.executeUpdate(decideUpdate, {
      args: [{ gate: 'disable-trace-export', decision: 'reject', actor: BOB, comment: 'keep traces' }],
    });
    await waitForRecord(handle, (r) => r.currentStep === 'waiting for resolution');
    await handle.signal(resolveSignal, { actor: BOB });
    const record = await handle.result();

    const { postmortem, markdown } = await exportPostmortem(client, { workflowId: handle.workflowId });
    assertCommonShape(postmortem, markdown, 'oom-triage');
    await assertMatchesTemporalShow(handle, postmortem);
    const rejection = postmortem.decisions.find((d) => d.gate === 'disable-trace-export');
    assert.equal(rejection?.kind, 'reject');
    assert.equal(rejection?.comment, 'keep traces');
    assert.equal(rejection?.gateStatus, 'rejected');
    assert.equal(postmortem.mitigations.length, record.mitigations.length);
    assert.ok(postmortem.mitigations.length > 0);
    assert.ok(
      postmortem.timers.some((t) => t.outcome === 'fired'),
      'the restore-after timer fired',
    );
    assert.ok(postmortem.mitigations.every((m) => m.restored === (m.restoredAt !== undefined)));
    const heap = postmortem.evidence.find((e) => e.name.startsWith('heap-profile-'));
    assert.equal(heap?.bytes, 48_213);
    assert.equal(heap?.sha256, 'ab'.repeat(32));
    assert.match(heap?.slackFileId ?? '', /^F\d+$/, 'the thread upload is joined to its artefact');
    assert.match(markdown, new RegExp(`## Evidence[\\s\\S]*\`${heap.name}\`[^\\n]*48213 bytes[^\\n]*${heap.sha256}`));
  });

  test('alert-triggered: detection time from the alert, later alerts as signals, resolved by the alert', async () => {
    const target = uniqueTarget('payments');
    const detectedAt = new Date(Date.now() - 90_000).toISOString();
    const groupKey = `{}:{alertname="ServiceDown", deployment="${target.deployment}"}`;
    const prepared = prepareIncident({
      runbook: 'p0-response',
      targets: [target],
      params: {},
      trigger: { kind: 'alert', source: 'alertmanager', receiver: 'web\\.hook', groupKey },
      policy,
      detectedAt,
    });
    const notification = (status: 'firing' | 'resolved'): AlertNotification => ({
      source: 'alertmanager',
      receiver: 'web\\.hook',
      groupKey,
      status,
      truncatedAlerts: 0,
      alerts: [
        {
          fingerprint: `fp-${target.deployment}`,
          status,
          labels: { alertname: 'ServiceDown', deployment: target.deployment },
          annotations: {},
          startsAt: detectedAt,
        },
      ],
      receivedAt: new Date().toISOString(),
    });
    const { workflowId } = await deliverAlert(client, prepared, notification('firing'), worker.taskQueue);
    const handle: Handle = client.workflow.getHandle(workflowId);
    await waitForRecord(handle, (r) => r.status === 'mitigated');
    await deliverAlert(client, prepared, notification('resolved'), worker.taskQueue);
    await handle.result();

    const { postmortem, markdown } = await exportPostmortem(client, { workflowId });
    assertCommonShape(postmortem, markdown, 'p0-response');
    await assertMatchesTemporalShow(handle, postmortem);
    assert.equal(postmortem.summary.trigger?.kind, 'alert');
    assert.match(postmortem.summary.triggeredBy, /^alert from alertmanager \(receiver web/);
    assert.equal(postmortem.times.detected, detectedAt);
    assert.ok(postmortem.times.mttrMs! >= 90_000, 'MTTR counts from detection, not from the start');
    const alertSignals = postmortem.signals.filter((signal) => signal.name !== 'holdNotice');
    assert.deepEqual(
      alertSignals.map((signal) => signal.name),
      ['alert', 'alert'],
    );
    assert.match(alertSignals[1]!.summary, /0 firing, 1 resolved/);
  });

  test('a running incident: exported as it stands, gate still open', async () => {
    const handle = await startIncident(client, worker.taskQueue, { runbook: 'p0-response', severity: 'P2', policy });
    const { id } = await waitForRecord(handle, gatePending('restart'));
    // The gate is in the history once the workflow has asked for it (the approval request activity).
    await waitUntil(() => world.made('postApprovalRequest', (input) => input.incidentId === id).length > 0);
    try {
      const { postmortem, markdown } = await exportPostmortem(client, { workflowId: handle.workflowId });
      assert.equal(postmortem.gates.length, 1);
      assert.equal(postmortem.gates[0]!.status, 'pending');
      assert.equal(postmortem.source.executionStatus, 'running');
      assert.equal(postmortem.source.recordSource, 'snapshot');
      assert.equal(postmortem.summary.status, 'open');
      assert.equal(postmortem.times.closed, undefined);
      assert.ok(postmortem.timers.some((t) => t.outcome === 'pending'));
      assert.match(markdown, /still running/);
      assert.match(markdown, /gate restart :active/);
      assert.ok(postmortem.narrative.length > 0, 'the thread posts so far tell the story');
    } finally {
      await handle.terminate('test done');
    }
  });
});

async function waitUntil(predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('postmortem pieces', () => {
  test('redaction: secret names, Authorization values, tokens inside text', () => {
    const redacted = redact({
      env: { API_TOKEN: 'abc', OTEL_TRACES_SAMPLER_ARG: '0.001', DB_PASSWORD: 'pw' },
      headers: { Authorization: 'Bearer abcdefghijk', Accept: 'text/plain' },
      change: { kind: 'env', name: 'SLACK_SIGNING_SECRET', previous: 'old', applied: 'new' },
      key: 'shop/checkout/env/app/X',
      note: 'posted with xoxb-1234567890-abcdef and https://user:hunter2@example.com/x?api_key=zzz',
    });
    assert.deepEqual(redacted.env, { API_TOKEN: REDACTED, OTEL_TRACES_SAMPLER_ARG: '0.001', DB_PASSWORD: REDACTED });
    assert.deepEqual(redacted.headers, { Authorization: REDACTED, Accept: 'text/plain' });
    assert.equal(redacted.change.previous, REDACTED);
    assert.equal(redacted.change.applied, REDACTED);
    assert.equal(redacted.key, 'shop/checkout/env/app/X', 'mitigation keys are names, not secrets');
    assert.doesNotMatch(redacted.note, /xoxb-1234|hunter2|zzz/);
    assert.equal(redactText('Authorization: Basic dXNlcjpwYXNz'), `Authorization: Basic ${REDACTED}`);
  });

  test('redaction inside text: env-style *_KEY values, scheme-less credentials, JSON bodies, Slack URLs', () => {
    const cases: Array<[string, string]> = [
      [
        'set STRIPE_SECRET_KEY=sk_live_51abc PRIVATE_KEY=xyz',
        `set STRIPE_SECRET_KEY=${REDACTED} PRIVATE_KEY=${REDACTED}`,
      ],
      ['Authorization: s3cr3t-raw-token', `Authorization: ${REDACTED}`],
      ['X-Api-Key: abc123def and Cookie: session=abcd1234', `X-Api-Key: ${REDACTED} and Cookie: ${REDACTED}`],
      [
        'upstream said {"user":"bob","password":"hunter2","access_token":"q\\"x"}',
        `upstream said {"user":"bob","password":"${REDACTED}","access_token":"${REDACTED}"}`,
      ],
      [
        'posted to https://hooks.slack.com/services/T000/B000/XXXXsecretXXXX failed',
        `posted to https://hooks.slack.com/services/${REDACTED} failed`,
      ],
      ['refresh with xoxe-1-My0xLTEtMjM0', `refresh with ${REDACTED}`],
    ];
    for (const [text, expected] of cases) assert.equal(redactText(text), expected, text);
    // Names, not secrets, stay readable.
    for (const text of [
      'groupKey=abc receiver=web',
      'dedupKey=INC-1',
      'OTEL_TRACES_SAMPLER_ARG=0.001',
      'Authorization: Bearer <redacted>',
    ]) {
      assert.equal(redactText(text), text);
    }
  });

  test('a history that does not start a workflow is refused', () => {
    assert.throws(() => buildPostmortem([], { workflowId: 'x' }), /WorkflowExecutionStarted/);
  });

  test('Markdown table cells cannot break the table', async () => {
    const handle = await startIncident(client, worker.taskQueue, { runbook: 'emergency-rollback', policy });
    await handle.executeUpdate(acknowledgeUpdate, { args: [{ actor: BOB, note: 'a | b\nnext <line>' }] });
    try {
      const events = await fetchHistoryEvents(client, handle.workflowId);
      const markdown = renderMarkdown(buildPostmortem(events, { workflowId: handle.workflowId }));
      assert.match(markdown, /Acknowledged by bob \(U0BOB\): a \\\| b<br>next &lt;line>/);
    } finally {
      await handle.terminate('test done');
    }
  });
});

/**
 * Alert groups of any size on the real engine (`firebreak start`, the real ingress, worker and
 * Slack activities against the Slack stand-in): 20,000 alerts in one notification, a group that
 * churns through 800 new pods per notification for 50 notifications, and a 1 MB label value.
 * Each is one incident that stays open (waiting at its approval gate, where it cannot continue as
 * new), with a bounded history and a bounded number of Slack calls; a worker SIGTERM with all of
 * them open takes under 10 s; then one is resolved from the CLI, one cancelled, one resolved by
 * its alerts — and a run terminated behind the engine's back is taken up, not duplicated.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test, type TestContext } from 'node:test';
import type { IncidentRecord } from '../../common/types';
import { HISTORY_BYTES_BUDGET } from '../../workflows/incident/history';
import { podSuffix } from '../alerts-support';
import {
  alertmanagerPayload,
  eventually,
  SKIP_WITHOUT_E2E_BED,
  WEBHOOK_TOKEN,
  worldForSuite,
  type AlertSpec,
} from './harness';

const MiB = 1024 * 1024;
const LONG = { P0: '30m', P1: '30m', P2: '30m', P3: '30m' };

interface Group {
  name: string;
  groupKey: string;
  workflowId: string;
  /** The ReplicaSet's pod name prefix and one real pod, listed first so the group routes to its Deployment. */
  replicaSet: string;
  pod: string;
}

describe('large alert groups end to end', { skip: SKIP_WITHOUT_E2E_BED }, () => {
  const world = worldForSuite({
    name: 'large',
    adminKubeconfig: true,
    policy: { ackDeadline: LONG, gateEscalateAfter: '30m', gateDeadline: '30m' },
  });
  const groups = new Map<string, Group>();

  before(async () => {
    for (const name of ['big', 'churn', 'wide']) {
      await world.cluster.deploy(world.namespace, name, { replicas: 1 });
      const pods = await world.cluster.kubectlJson<{ items: { metadata: { name: string } }[] }>([
        '-n',
        world.namespace,
        'get',
        'pods',
        '-l',
        `app=${name}`,
      ]);
      const pod = pods.items[0]!.metadata.name;
      const groupKey = `{}:{alertname="KubePodCrashLooping", namespace="${world.namespace}", test="${name}-${randomUUID()}"}`;
      groups.set(name, {
        name,
        groupKey,
        workflowId: world.alertWorkflowId(groupKey),
        replicaSet: pod.replace(/-[^-]+$/, ''),
        pod,
      });
    }
  });

  const group = (name: string) => groups.get(name)!;

  /** KubePodCrashLooping for kube-state-metrics series, as the mixin's rule labels it. */
  function crashLooping(g: Group, i: number, extra: Record<string, string> = {}, status?: 'resolved'): AlertSpec {
    return {
      labels: {
        alertname: 'KubePodCrashLooping',
        container: 'app',
        endpoint: 'http',
        instance: '10.244.0.17:8080',
        job: 'kube-state-metrics',
        namespace: world.namespace,
        pod: i === 0 ? g.pod : `${g.replicaSet}-${podSuffix(i)}`,
        prometheus: 'monitoring/k8s',
        reason: 'CrashLoopBackOff',
        service: 'kube-state-metrics',
        severity: 'warning',
        uid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
        ...extra,
      },
      annotations: {
        description: `Pod ${world.namespace}/${g.name} (app) is in waiting state (reason: "CrashLoopBackOff").`,
        runbook_url: 'https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubepodcrashlooping',
        summary: 'Pod is crash looping.',
      },
      ...(status ? { status } : {}),
    };
  }

  /** As World.postAlerts, with room for a large body's parsing on a loaded machine. */
  async function post(g: Group, alerts: AlertSpec[], status?: 'firing' | 'resolved') {
    const answer = await fetch(`${world.engine.url}/webhooks/alertmanager`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${WEBHOOK_TOKEN}` },
      body: JSON.stringify(alertmanagerPayload(g.groupKey, alerts, status)),
      signal: AbortSignal.timeout(60_000),
    });
    const text = await answer.text();
    assert.equal(answer.status, 200, text);
    return JSON.parse(text) as { outcome: string; runbook?: string; notes?: string[] };
  }

  /** The group's incident waiting at its gate with the group counted: open, in its steps. */
  function waitingWith(g: Group, firing: number, notifications = 1): Promise<IncidentRecord> {
    return world.waitFor(
      g.workflowId,
      `${firing} firing after ${notifications} notification(s), at the gate`,
      (r) =>
        r.alertSummary?.firing === firing &&
        r.alertSummary.notifications >= notifications &&
        r.gates.some((gate) => gate.status === 'pending'),
      90_000,
    );
  }

  async function historyBytes(workflowId: string): Promise<{ bytes: number; events: number }> {
    const description = await world.client.workflow.getHandle(workflowId).describe();
    return {
      bytes: Number(description.raw.workflowExecutionInfo?.historySizeBytes ?? 0),
      events: description.historyLength,
    };
  }

  /** Runs of the group's workflow id (one per incident, continue-as-new runs included). */
  async function runsOf(workflowId: string): Promise<{ runId: string; status: string }[]> {
    const runs: { runId: string; status: string }[] = [];
    for await (const execution of world.client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) {
      runs.push({ runId: execution.runId, status: execution.status.name });
    }
    return runs;
  }

  /** Slack calls about one incident: its card (post and updates) and its thread. */
  function slackCallsFor(record: IncidentRecord): number {
    const ts = record.slack?.ts;
    assert.ok(ts, `${record.id} has a card`);
    return world.slack.calls.filter((call) => {
      const p = call.params;
      return (
        p.ts === ts ||
        p.thread_ts === ts ||
        (call.method === 'chat.postMessage' && JSON.stringify(p).includes(record.id) && !p.thread_ts)
      );
    }).length;
  }

  async function assertBounded(t: TestContext, g: Group, record: IncidentRecord, what: string): Promise<void> {
    const history = await historyBytes(g.workflowId);
    const calls = slackCallsFor(record);
    t.diagnostic(
      `${what}: history ${(history.bytes / 1024).toFixed(0)} KiB in ${history.events} events; ${calls} Slack calls; ` +
        `record ${(JSON.stringify(record).length / 1024).toFixed(1)} KiB with ${record.alerts.length} alerts kept`,
    );
    assert.ok(history.bytes < HISTORY_BYTES_BUDGET, `${what}: history ${history.bytes} bytes`);
    assert.ok(calls <= 20, `${what}: ${calls} Slack calls`);
    assert.ok(record.alerts.length <= 100, `${what}: ${record.alerts.length} alerts kept`);
    assert.deepEqual(
      (await runsOf(g.workflowId)).filter((run) => run.status === 'RUNNING').length,
      1,
      `${what}: one incident`,
    );
  }

  test('20,000 alerts in one notification: one incident, counted exactly', async (t) => {
    const g = group('big');
    const alerts = Array.from({ length: 20_000 }, (_, i) => crashLooping(g, i));
    const started = Date.now();
    const answer = await post(g, alerts);
    t.diagnostic(`20,000 alerts: answered ${answer.outcome} in ${Date.now() - started} ms`);
    assert.equal(answer.outcome, 'accepted', JSON.stringify(answer));
    assert.equal(answer.runbook, 'p0-response');
    const record = await waitingWith(g, 20_000);
    assert.deepEqual(record.target, { namespace: world.namespace, deployment: 'big' });
    // Alertmanager resends the same group on its repeat interval: nothing new opens.
    assert.equal((await post(g, alerts)).outcome, 'signalled');
    await assertBounded(t, g, await waitingWith(g, 20_000, 2), '20,000 alerts');
  });

  test('a churning group: 50 notifications × 800 new pods with kube-state-metrics labels', async (t) => {
    const g = group('churn');
    const started = Date.now();
    for (let n = 0; n < 50; n++) {
      const alerts = Array.from({ length: 800 }, (_, i) => crashLooping(g, n === 0 && i === 0 ? 0 : 1 + n * 800 + i));
      const answer = await post(g, alerts);
      assert.equal(
        answer.outcome,
        n === 0 ? 'accepted' : 'signalled',
        `notification ${n + 1}: ${JSON.stringify(answer)}`,
      );
    }
    t.diagnostic(`churn: 50 notifications of 800 new fingerprints answered in ${Date.now() - started} ms`);
    const record = await waitingWith(g, 800, 50);
    assert.equal(record.alertSummary!.notifications, 50);
    assert.ok(record.alertSummary!.forgotten > 0, 'older fingerprints were let go');
    await assertBounded(t, g, record, 'churn');
  });

  test('a 1 MB label value: accepted, cut down, one incident', async (t) => {
    const g = group('wide');
    const alerts = Array.from({ length: 10 }, (_, i) => crashLooping(g, i, i === 1 ? { error: 'e'.repeat(MiB) } : {}));
    const answer = await post(g, alerts);
    assert.equal(answer.outcome, 'accepted', JSON.stringify(answer));
    const record = await waitingWith(g, 10);
    assert.ok(
      record.alerts.every((a) => JSON.stringify(a).length < 4_096),
      'no alert reaches the incident with the 1 MB value',
    );
    await assertBounded(t, g, record, '1 MB label');
  });

  test('SIGTERM with the three incidents open: the engine stops within 10 s and they carry on', async (t) => {
    const started = Date.now();
    await world.engine.stop();
    const stoppedIn = Date.now() - started;
    t.diagnostic(`SIGTERM with three large incidents open: exited in ${stoppedIn} ms`);
    assert.ok(stoppedIn < 10_000, `stopped in ${stoppedIn} ms`);
    await world.engine.start();
    for (const g of groups.values()) {
      const record = await world.waitFor(g.workflowId, 'still open after the restart', (r) => r.closedAt === undefined);
      assert.ok(record.gates.some((gate) => gate.status === 'pending'));
    }
  });

  test('resolved from the CLI, cancelled, resolved by its alerts', async (t) => {
    const big = group('big');
    await world.cliOk(['resolve', big.workflowId, '--note', 'fixed by hand']);
    const churn = group('churn');
    await world.client.workflow.getHandle(churn.workflowId).cancel();
    const wide = group('wide');
    const resolvedAlerts = Array.from({ length: 10 }, (_, i) => crashLooping(wide, i, {}, 'resolved'));
    assert.equal((await post(wide, resolvedAlerts)).outcome, 'signalled');

    const results = await Promise.all(
      [big, churn, wide].map((g) => world.client.workflow.getHandle(g.workflowId).result() as Promise<IncidentRecord>),
    ).catch(async (err: unknown) => {
      throw new Error(`${String(err)}\n${world.logs()}`);
    });
    assert.deepEqual(
      results.map((r) => r.status),
      ['resolved', 'cancelled', 'resolved'],
    );
    assert.match(results[2]!.outcome ?? '', /every alert of the incident resolved/);
    for (const [i, g] of [big, churn, wide].entries()) {
      const history = await historyBytes(g.workflowId);
      t.diagnostic(
        `${g.name} closed ${results[i]!.status}: history ${(history.bytes / 1024).toFixed(0)} KiB, ${slackCallsFor(results[i]!)} Slack calls in all`,
      );
    }
    t.diagnostic(`Slack calls for the whole file: ${world.slack.calls.length}`);
  });

  test('a run terminated behind the engine’s back: the next notification takes the incident up, loudly', async () => {
    const g = group('wide');
    const alerts = Array.from({ length: 10 }, (_, i) => crashLooping(g, i));
    assert.equal((await post(g, alerts)).outcome, 'accepted');
    const first = await waitingWith(g, 10);
    await world.client.workflow.getHandle(g.workflowId).terminate('simulating a run the server killed');
    const dead = await eventually('the terminated run in visibility', async () =>
      (await runsOf(g.workflowId)).find((run) => run.status === 'TERMINATED'),
    );

    const answer = await post(g, alerts);
    assert.equal(answer.outcome, 'accepted');
    assert.match(String(answer.notes), new RegExp(`previous run ${dead.runId} \\(${first.id}\\) ended TERMINATED`));
    const again = await world.waitFor(g.workflowId, 'taken up', (r) =>
      r.timeline.some((e) => e.kind === 'failure' && e.message.includes(dead.runId)),
    );
    assert.equal(again.id, first.id, 'the same incident, taken up');
    await eventually('the thread says so', async () => (world.slackText().includes(dead.runId) ? true : undefined));
    await world.client.workflow.getHandle(g.workflowId).cancel();
  });
});

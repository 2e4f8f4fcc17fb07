/**
 * Size and credentials. A group of 5,000 crash-looping pods (~1.6 MB, kube-state-metrics labels)
 * plus a 1 MB label value is accepted — one incident, every signal under the budget, as its
 * history shows; credentials are judged before a byte of the body is read (a 30 MB body with a
 * wrong token is refused while the sender is still sending, and the ingress's memory does not
 * grow); over FIREBREAK_WEBHOOK_BODY_LIMIT is 413 from the headers alone; Grafana's signed bodies
 * are bounded in number.
 */
import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { request as httpRequest, type ClientRequest, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { KubeConfig } from '@kubernetes/client-node';
import { DEFAULT_WEBHOOK_BODY_LIMIT } from '../config/env';
import { MAX_UNVERIFIED_BODIES } from '../ingress/alerts/routes';
import { SIGNAL_BUDGET_BYTES } from '../ingress/alerts/signals';
import { ALERTS_KEPT_PER_STATUS } from '../domain/alerts';
import { statusQuery } from '../domain/messages';
import {
  eventually,
  podNames,
  podSuffix,
  postJson,
  signalEvents,
  startAlertRig,
  type AlertRig,
} from './alerts-support';
import {
  createDeployment,
  createNamespace,
  deleteNamespace,
  kubeTestEnv,
  loadKubeConfig,
  settled,
  SKIP_WITHOUT_KUBE,
} from './kube/fixtures';

const TOKEN = 'limits-token';
const HMAC_SECRET = 'limits-grafana-secret';
const MiB = 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, 'x');
const ANSWER_TIMEOUT_MS = 30_000;

interface RawAnswer {
  status: number;
  body: string;
  /** ms since the request started */
  at: number;
}

/**
 * A sender that says it will send `length` bytes and sends them only as `feed` decides: the
 * answer, if it comes before the body is complete, was given without reading it.
 */
function rawPost(
  url: string,
  headers: Record<string, string>,
  length: number,
): { req: ClientRequest; answer: Promise<RawAnswer> } {
  const started = Date.now();
  const req = httpRequest(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'content-length': String(length), ...headers },
  });
  const answer = new Promise<RawAnswer>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ANSWER_TIMEOUT_MS} ms`)), ANSWER_TIMEOUT_MS);
    req.on('close', () => clearTimeout(timer));
    req.on('response', (res) => {
      const at = Date.now() - started;
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, at }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
  answer.catch(() => undefined);
  req.flushHeaders();
  return { req, answer };
}

/**
 * Writes `total` bytes (prefix, padding, suffix) at most 64 KiB at a time, as a sender that stops
 * once it has its answer (as Go's HTTP client, Alertmanager's, does). Returns the bytes written.
 */
async function feed(
  req: ClientRequest,
  total: number,
  options: { prefix?: string; suffix?: string; until?: Promise<unknown> } = {},
): Promise<number> {
  const { prefix = '', suffix = '' } = options;
  let answered = false;
  const settled = (options.until ?? new Promise(() => undefined)).then(
    () => (answered = true),
    () => (answered = true),
  );
  const closed = new Promise((resolve) => req.once('close', resolve));
  let left = total - Buffer.byteLength(prefix) - Buffer.byteLength(suffix);
  let written = Buffer.byteLength(prefix);
  if (prefix) req.write(prefix);
  while (left > 0 && !req.destroyed && !answered) {
    const piece = left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left);
    left -= piece.length;
    written += piece.length;
    // Blocked: wait for room, the connection's end, or the answer.
    if (!req.write(piece)) await Promise.race([once(req, 'drain'), closed, settled]);
    await new Promise((resolve) => setImmediate(resolve));
  }
  if (answered) req.destroy();
  else if (!req.destroyed) req.end(suffix);
  return written + (answered ? 0 : Buffer.byteLength(suffix));
}

/** Bytes the ingress's server read from its sockets while `during` ran: what it took in, body or not. */
async function bytesReadBy(server: Server, during: () => Promise<unknown>): Promise<number> {
  const sockets: Socket[] = [];
  const track = (socket: Socket) => sockets.push(socket);
  server.on('connection', track);
  try {
    await during();
  } finally {
    server.off('connection', track);
  }
  return sockets.reduce((sum, socket) => sum + socket.bytesRead, 0);
}

describe('webhook sizes and credentials', { skip: SKIP_WITHOUT_KUBE }, () => {
  let rig: AlertRig;
  let admin: KubeConfig;
  let namespace: string;
  const am = () => `${rig.ingress.url}/webhooks/alertmanager`;

  before(async () => {
    const kube = kubeTestEnv()!;
    admin = loadKubeConfig(kube.kubeconfig);
    namespace = await createNamespace(admin, 'alerts-limits');
    await createDeployment(admin, namespace, 'checkout', { replicas: 1 });
    await settled(kube, namespace, 'checkout');
    rig = await startAlertRig({
      name: 'alerts-limits',
      configYaml: '',
      env: { FIREBREAK_WEBHOOK_TOKEN: TOKEN, FIREBREAK_GRAFANA_HMAC_SECRET: HMAC_SECRET },
      kubeconfig: kube.kubeconfig,
    });
  });

  after(async () => {
    await rig?.close();
    if (admin && namespace) await deleteNamespace(admin, namespace);
  });

  test('5,000 crash-looping pods and a 1 MB label value: 2xx, one incident, every signal under the budget', async (t) => {
    const [pod] = await podNames(admin, namespace, 'checkout');
    const replicaSet = pod!.replace(/-[^-]+$/, '');
    // As Alertmanager 0.25 sends the mixin's KubePodCrashLooping for kube-state-metrics series.
    const alerts = Array.from({ length: 5_000 }, (_, i) => {
      const labels: Record<string, string> = {
        alertname: 'KubePodCrashLooping',
        container: 'app',
        instance: '10.244.0.17:8080',
        job: 'kube-state-metrics',
        namespace,
        pod: i === 0 ? pod! : `${replicaSet}-${podSuffix(i)}`,
        reason: 'CrashLoopBackOff',
        severity: 'warning',
        uid: randomUUID(),
      };
      if (i === 1) labels.error = 'e'.repeat(MiB);
      return {
        status: 'firing',
        labels,
        annotations: { summary: 'Pod is crash looping.' },
        startsAt: '2026-11-21T05:00:00.000Z',
        endsAt: '0001-01-01T00:00:00Z',
        generatorURL: '',
        fingerprint: (0x10000000000 + i).toString(16).padStart(16, '0'),
      };
    });
    const groupKey = `{}:{alertname="KubePodCrashLooping", namespace="${namespace}"}`;
    const body = JSON.stringify({
      receiver: 'firebreak',
      status: 'firing',
      alerts,
      groupLabels: { alertname: 'KubePodCrashLooping', namespace },
      commonLabels: { alertname: 'KubePodCrashLooping', namespace, severity: 'warning' },
      commonAnnotations: {},
      externalURL: 'http://alertmanager.local',
      version: '4',
      groupKey,
      truncatedAlerts: 0,
    });
    const withoutBigLabel = Buffer.byteLength(body) - MiB;
    const started = Date.now();
    const res = await postJson(am(), body, { authorization: `Bearer ${TOKEN}` });
    const answeredIn = Date.now() - started;
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.outcome, 'accepted');
    assert.equal(res.body.runbook, 'p0-response');

    const handle = rig.client.workflow.getHandle(String(res.body.workflowId));
    // A signal that arrives while a workflow task runs is held by Temporal (durably) and shows in
    // the history once that task completes.
    const signals = await eventually('every part in the history', async () => {
      const events = await signalEvents(handle);
      const count = events[0]?.notification.part?.count ?? 1;
      return events.length === count ? events : undefined;
    });
    for (const [i, signal] of signals.entries()) {
      assert.ok(signal.bytes <= SIGNAL_BUDGET_BYTES, `signal ${i + 1}: ${signal.bytes} bytes`);
      assert.deepEqual(signal.notification.counts, { firing: 5_000, resolved: 0, withheld: 0 }, 'every alert counted');
    }
    const carried = signals.flatMap((s) => s.notification.alerts.map((a) => a.fingerprint));
    assert.equal(new Set(carried).size, ALERTS_KEPT_PER_STATUS, 'the earliest the incident keeps, each once');
    assert.equal(signals.at(-1)!.notification.truncatedAlerts, 5_000 - ALERTS_KEPT_PER_STATUS);

    // The incident runs on it: the carried alerts kept, the group's size exact.
    const record = await eventually(
      'the notification folded',
      async () => {
        const r = await handle.query(statusQuery);
        return r.alertSummary?.firing === 5_000 ? r : undefined;
      },
      60_000,
    );
    assert.equal(record.alerts.length, ALERTS_KEPT_PER_STATUS);
    // Before the incident is terminated (which fails its task in flight, by design).
    const history = await handle.fetchHistory();
    const failed = history.events?.filter((e) => e.workflowTaskFailedEventAttributes) ?? [];
    assert.deepEqual(
      failed.map((e) => [
        e.workflowTaskFailedEventAttributes?.cause,
        e.workflowTaskFailedEventAttributes?.failure?.message,
      ]),
      [],
      'no workflow task failed',
    );
    await handle.terminate('measured');
    assert.equal(record.alertsPartial, true);
    assert.deepEqual(record.target, { namespace, deployment: 'checkout' });
    assert.deepEqual(await rig.workflows(), [handle.workflowId], 'one incident');
    const big = record.alerts.find((a) => a.fingerprint === (0x10000000001).toString(16).padStart(16, '0'));
    assert.ok(big && big.labels.error === undefined, 'a label outside the kept set does not reach the incident');
    t.diagnostic(
      `body ${(Buffer.byteLength(body) / MiB).toFixed(2)} MiB (${(withoutBigLabel / 1e6).toFixed(2)} MB without the 1 MB label), ` +
        `answered 200 in ${answeredIn} ms; ${signals.length} signals of ${signals.map((s) => s.bytes).join(', ')} bytes`,
    );
  });

  test('a 30 MB body with a wrong token: 401 while the sender is still sending; the body is never read', async (t) => {
    const size = 30 * 1000 * 1000;
    const server = rig.ingress.app.server;
    // A sender that stops after 64 KiB: the answer can only come from the headers.
    const stalled = rawPost(am(), { authorization: 'Bearer wrong' }, size);
    stalled.req.write(CHUNK);
    const refused = await stalled.answer;
    stalled.req.destroy();
    assert.equal(refused.status, 401);
    assert.match(refused.body, /unauthorized: invalid bearer token/);

    // A sender that sends as fast as the ingress takes it, until it has its answer.
    let wrong: RawAnswer | undefined;
    let wrongSent = 0;
    const wrongRead = await bytesReadBy(server, async () => {
      const sending = rawPost(am(), { authorization: 'Bearer wrong' }, size);
      [wrong, wrongSent] = await Promise.all([sending.answer, feed(sending.req, size, { until: sending.answer })]);
    });
    assert.equal(wrong!.status, 401);
    assert.ok(wrongSent < size, `the answer came before the body was sent (${wrongSent} of ${size} bytes)`);
    assert.ok(wrongRead < MiB, `the ingress read ${wrongRead} bytes of a ${size}-byte request`);

    // The control: the same size with the right token is read, parsed and answered.
    let right: RawAnswer | undefined;
    const rightRead = await bytesReadBy(server, async () => {
      const sending = rawPost(am(), { authorization: `Bearer ${TOKEN}` }, size);
      const prefix = '{"alerts":[{"labels":{"alertname":"SizeProbe"}}],"padding":"';
      [right] = await Promise.all([sending.answer, feed(sending.req, size, { prefix, suffix: '"}' })]);
    });
    assert.equal(right!.status, 200, right!.body);
    assert.ok(rightRead >= size, `the ingress read ${rightRead} bytes`);
    t.diagnostic(
      `wrong token: 401 after ${refused.at} ms to a sender stalled at 64 KiB of 30 MB; to a streaming sender ` +
        `401 after ${wrong!.at} ms, ${(wrongSent / MiB).toFixed(2)} MiB sent, ${(wrongRead / 1024).toFixed(0)} KiB ` +
        `read by the ingress. Right token: 200 after ${right!.at} ms, ${(rightRead / MiB).toFixed(1)} MiB read`,
    );
  });

  test('over the body limit: 413 from Content-Length, before the body', async () => {
    const tooBig = rawPost(am(), { authorization: `Bearer ${TOKEN}` }, DEFAULT_WEBHOOK_BODY_LIMIT + 1);
    const answer = await tooBig.answer;
    tooBig.req.destroy();
    assert.equal(answer.status, 413);
    assert.match(answer.body, new RegExp(`larger than ${DEFAULT_WEBHOOK_BODY_LIMIT} bytes`));
  });

  test('Grafana signatures: unsigned refused before the body; signed bodies buffered at most two at a time', async () => {
    const grafana = `${rig.ingress.url}/webhooks/grafana`;
    const unsigned = rawPost(grafana, {}, 10 * MiB);
    const refused = await unsigned.answer;
    unsigned.req.destroy();
    assert.equal(refused.status, 401);
    assert.match(refused.body, /missing x-grafana-alerting-signature/);

    const signature = { 'x-grafana-alerting-signature': 'ab'.repeat(32) };
    const holding = Array.from({ length: MAX_UNVERIFIED_BODIES }, () => rawPost(grafana, signature, 10 * MiB));
    for (const held of holding) held.req.write(CHUNK);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const third = rawPost(grafana, signature, 10 * MiB);
    const busy = await third.answer;
    third.req.destroy();
    assert.equal(busy.status, 503);
    assert.match(busy.body, /busy checking other signed notifications/);
    for (const held of holding) held.req.destroy();

    const payload = JSON.stringify({
      version: '1',
      groupKey: `{}:{probe="${randomUUID()}"}`,
      status: 'firing',
      receiver: 'grafana',
      alerts: [{ status: 'firing', labels: { alertname: 'SizeProbe' }, fingerprint: 'abc' }],
    });
    const valid = createHmac('sha256', HMAC_SECRET).update(payload).digest('hex');
    const accepted = await eventually('a slot free again', async () => {
      const res = await postJson(grafana, payload, { 'x-grafana-alerting-signature': valid });
      return res.status === 200 ? res : undefined;
    });
    assert.equal(accepted.body.outcome, 'ignored');
  });
});

/**
 * What the alert-webhook tests and the burst benchmark share: an ingress with the real alert routes
 * on a port-0 listener (over a real Temporal client), routing rules written as users write them
 * (YAML through the real config schema), Alertmanager v4 payloads, and visibility counts.
 */
import { AppsV1Api, BatchV1Api, CoreV1Api, type KubeConfig, type V1OwnerReference } from '@kubernetes/client-node';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { parseEnv } from '../config/env';
import { parseFileConfig } from '../config/file';
import type { IncidentPolicy } from '../common/incident';
import { buildApp, type HealthReport } from '../ingress/app';
import { alertRoutes } from '../ingress/alerts/routes';
import { createOwnerResolver } from '../ingress/kubernetes/owners';
import { connectTestClient, runTestWorker, uniqueTaskQueue } from './bed/worker';
import { loadKubeConfig } from './kube/fixtures';
import { FakeWorld } from './workflows/fakes';
import { fastPolicy } from './workflows/harness';
import { IngressMetrics } from '../ingress/metrics';
import type { AlertInstance, AlertNotification } from '../domain/messages';
import { HOLD_WORKFLOW_TYPE } from '../domain/hold';

export interface TestIngress {
  app: FastifyInstance;
  url: string;
  metrics: IngressMetrics;
  /** Lines the alert routes logged (ignored groups, outages). */
  logs: string[];
  close(): Promise<void>;
}

/** An OOM rule for a test's own `sink`, so concurrent test files never route each other's alerts. */
export function oomRoutesYaml(sink: string): string {
  return [
    'routes:',
    '  - name: oom',
    `    match: { alertname: '~ContainerOOMKilled|KubePodOOMKilled', sink: '${sink}' }`,
    '    runbook: oom-triage',
    '    severity: { label: severity, map: { critical: P1, warning: P2 }, default: P3 }',
    '    params:',
    "      offerDisableTraceExport: { value: 'false' }",
    "      heapProfile: { value: 'false' }",
    '      memoryLimit: { annotation: memory_limit }',
    '',
  ].join('\n');
}

export async function startTestIngress(options: {
  client: Client;
  taskQueue: string;
  policy: IncidentPolicy;
  configYaml: string;
  env?: Record<string, string>;
  /** The bed's kubeconfig, to follow pods to their Deployments; without it nothing is looked up. */
  kubeconfig?: string;
}): Promise<TestIngress> {
  const env = parseEnv({ FIREBREAK_TASK_QUEUE: options.taskQueue, ...options.env });
  const config = parseFileConfig(options.configYaml, 'test config');
  const metrics = new IngressMetrics();
  const logs: string[] = [];
  const health = async (): Promise<HealthReport> => ({
    ok: true,
    temporal: { ok: true, address: 'test', namespace: 'default' },
    worker: { ok: true, state: 'RUNNING', taskQueue: options.taskQueue },
  });
  const app = await buildApp({
    client: options.client,
    env,
    config,
    policy: options.policy,
    health,
    metrics,
    // Never the developer's own ~/.kube/config: the bed's cluster or none.
    routes: [
      alertRoutes({
        log: (line) => logs.push(line),
        owners: options.kubeconfig ? createOwnerResolver(loadKubeConfig(options.kubeconfig)) : null,
      }),
    ],
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { app, url: `http://127.0.0.1:${port}`, metrics, logs, close: () => app.close() };
}

/** A test file's whole alert path: a client, a worker with fake activities on its own queue, an ingress. */
export interface AlertRig {
  client: Client;
  ingress: TestIngress;
  world: FakeWorld;
  taskQueue: string;
  /** Workflows that ever ran on the rig's task queue. */
  workflows(): Promise<string[]>;
  /** Closes the ingress, terminates what is still open (so the shared server goes quiet), stops the worker. */
  close(): Promise<void>;
}

export async function startAlertRig(options: {
  name: string;
  configYaml: string;
  env?: Record<string, string>;
  kubeconfig?: string;
}): Promise<AlertRig> {
  const world = new FakeWorld();
  const taskQueue = uniqueTaskQueue(options.name);
  const { client, connection } = await connectTestClient();
  const worker = await runTestWorker({ activities: world.activities(), taskQueue });
  const ingress = await startTestIngress({ client, taskQueue, policy: fastPolicy(), ...options });
  const workflows = () => workflowsOnQueue(client, taskQueue);
  return {
    client,
    ingress,
    world,
    taskQueue,
    workflows,
    async close() {
      await ingress.close();
      for (const id of await workflows()) {
        await client.workflow
          .getHandle(id)
          .terminate('test finished')
          .catch(() => undefined);
      }
      await worker.stop();
      await connection.close();
    },
  };
}

/** Five characters of Kubernetes' safe alphabet, as a ReplicaSet suffixes its pods; distinct for i < 27^5. */
export function podSuffix(i: number): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  let text = '';
  for (let n = i, k = 0; k < 5; k++, n = Math.floor(n / alphabet.length)) text += alphabet[n % alphabet.length];
  return text;
}

export interface PayloadOptions {
  receiver?: string;
  groupKey: string;
  status?: 'firing' | 'resolved';
  truncatedAlerts?: number;
  alerts: AlertInstance[];
  version?: string;
}

/** An Alertmanager webhook v4 body, as Alertmanager 0.25 writes it. */
export function alertmanagerPayload(options: PayloadOptions): Record<string, unknown> {
  const status = options.status ?? (options.alerts.some((a) => a.status === 'firing') ? 'firing' : 'resolved');
  const common = options.alerts[0]?.labels ?? {};
  return {
    receiver: options.receiver ?? 'firebreak\\.webhook',
    status,
    alerts: options.alerts.map((alert) => ({
      status: alert.status,
      labels: alert.labels,
      annotations: alert.annotations,
      startsAt: alert.startsAt ?? '2026-11-21T05:00:00.000Z',
      endsAt: alert.endsAt ?? '0001-01-01T00:00:00Z',
      generatorURL: 'http://prometheus.local/graph',
      fingerprint: alert.fingerprint,
    })),
    groupLabels: { alertname: common.alertname ?? '' },
    commonLabels: common,
    commonAnnotations: {},
    externalURL: 'http://alertmanager.local',
    version: options.version ?? '4',
    groupKey: options.groupKey,
    truncatedAlerts: options.truncatedAlerts ?? 0,
  };
}

export function oomAlert(
  sink: string,
  fingerprint: string,
  labels: Record<string, string> = {},
  status: 'firing' | 'resolved' = 'firing',
): AlertInstance {
  return {
    fingerprint,
    status,
    labels: {
      alertname: 'ContainerOOMKilled',
      namespace: 'shop',
      deployment: 'checkout',
      pod: `checkout-${fingerprint}`,
      sink,
      ...labels,
    },
    annotations: { summary: 'container OOM-killed', memory_limit: '3Gi' },
    startsAt: '2026-11-21T05:00:00.000Z',
  };
}

export async function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
  method: 'POST' | 'PUT' = 'POST',
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(20_000),
  });
  const text = await res.text();
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    parsed = { text };
  }
  return { status: res.status, body: parsed };
}

/** Workflows that ever existed on a task queue (visibility), for "none starts anything". */
/** The incidents on a task queue: every workflow there but the per-deployment holds incidents claim. */
export async function workflowsOnQueue(client: Client, taskQueue: string): Promise<string[]> {
  const ids: string[] = [];
  const query = `TaskQueue = '${taskQueue}' AND WorkflowType != '${HOLD_WORKFLOW_TYPE}'`;
  for await (const execution of client.workflow.list({ query })) {
    ids.push(execution.workflowId);
    if (ids.length > 10_000) break;
  }
  return ids;
}

export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 20_000,
  intervalMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

/**
 * Every notification an incident's history holds, in order: each `alert` signal (signal-with-start
 * included) and each of the notifications an `alerts` signal coalesced, with the bytes of the
 * signal that carried it.
 */
export async function signalEvents(
  handle: WorkflowHandle,
): Promise<{ eventId: number; bytes: number; notification: AlertNotification; coalesced: boolean }[]> {
  const history = await handle.fetchHistory();
  const signals: { eventId: number; bytes: number; notification: AlertNotification; coalesced: boolean }[] = [];
  for (const event of history.events ?? []) {
    const attributes = event.workflowExecutionSignaledEventAttributes;
    const name = attributes?.signalName;
    if (name !== 'alert' && name !== 'alerts') continue;
    const data = attributes?.input?.payloads?.[0]?.data;
    if (!data) continue;
    const decoded: unknown = JSON.parse(Buffer.from(data).toString('utf8'));
    const notifications = (name === 'alerts' ? decoded : [decoded]) as AlertNotification[];
    for (const notification of notifications) {
      signals.push({ eventId: Number(event.eventId), bytes: data.length, notification, coalesced: name === 'alerts' });
    }
  }
  return signals;
}

export async function signalPayloads(handle: WorkflowHandle): Promise<AlertNotification[]> {
  return (await signalEvents(handle)).map((event) => event.notification);
}

/** The names of a Deployment's pods (the bed's deployments label their pods `app=<name>`). */
export async function podNames(kc: KubeConfig, namespace: string, app: string): Promise<string[]> {
  const list = await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace, labelSelector: `app=${app}` });
  return list.items.map((pod) => pod.metadata!.name!).sort();
}

/**
 * A workload the bed runs no controller for (StatefulSet, DaemonSet, Job under a CronJob) and one
 * pod controlled by it, named and owned exactly as its controller would make it.
 */
export async function workloadWithPod(
  kc: KubeConfig,
  namespace: string,
  kind: 'StatefulSet' | 'DaemonSet' | 'CronJob',
  name: string,
): Promise<string> {
  const apps = kc.makeApiClient(AppsV1Api);
  const labels = { app: name };
  const template = { metadata: { labels }, spec: { containers: [{ name: 'app', image: 'registry.example/app:v1' }] } };
  let owner: V1OwnerReference;
  let pod: string;
  if (kind === 'StatefulSet') {
    const created = await apps.createNamespacedStatefulSet({
      namespace,
      body: { metadata: { name }, spec: { serviceName: name, selector: { matchLabels: labels }, template } },
    });
    owner = { apiVersion: 'apps/v1', kind, name, uid: created.metadata!.uid!, controller: true };
    pod = `${name}-0`;
  } else if (kind === 'DaemonSet') {
    const created = await apps.createNamespacedDaemonSet({
      namespace,
      body: { metadata: { name }, spec: { selector: { matchLabels: labels }, template } },
    });
    owner = { apiVersion: 'apps/v1', kind, name, uid: created.metadata!.uid!, controller: true };
    pod = `${name}-x7k2p`;
  } else {
    const batch = kc.makeApiClient(BatchV1Api);
    const jobTemplate = { spec: { template: { ...template, spec: { ...template.spec, restartPolicy: 'Never' } } } };
    const cron = await batch.createNamespacedCronJob({
      namespace,
      body: { metadata: { name }, spec: { schedule: '0 3 * * *', jobTemplate } },
    });
    const job = `${name}-29437380`;
    const createdJob = await batch.createNamespacedJob({
      namespace,
      body: {
        metadata: {
          name: job,
          ownerReferences: [{ apiVersion: 'batch/v1', kind, name, uid: cron.metadata!.uid!, controller: true }],
        },
        spec: { ...jobTemplate.spec, suspend: true },
      },
    });
    owner = { apiVersion: 'batch/v1', kind: 'Job', name: job, uid: createdJob.metadata!.uid!, controller: true };
    pod = `${job}-q9w4z`;
  }
  await kc.makeApiClient(CoreV1Api).createNamespacedPod({
    namespace,
    body: { metadata: { name: pod, labels, ownerReferences: [owner] }, spec: template.spec },
  });
  return pod;
}

/**
 * What the alert-webhook tests and the burst benchmark share: an ingress with the real alert routes
 * on a port-0 listener (over a real Temporal client), routing rules written as users write them
 * (YAML through the real config schema), Alertmanager v4 payloads, and visibility counts.
 */
import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { parseEnv } from '../config/env';
import { parseFileConfig } from '../config/file';
import type { IncidentPolicy } from '../common/incident';
import { buildApp, type HealthReport } from '../ingress/app';
import { alertRoutes } from '../ingress/alerts/routes';
import { IngressMetrics } from '../ingress/metrics';
import type { AlertInstance } from '../domain/messages';

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
    routes: [alertRoutes({ log: (line) => logs.push(line) })],
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { app, url: `http://127.0.0.1:${port}`, metrics, logs, close: () => app.close() };
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
export async function workflowsOnQueue(client: Client, taskQueue: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const execution of client.workflow.list({ query: `TaskQueue = '${taskQueue}'` })) {
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

/**
 * The ingress thread's body (`firebreak start` runs it through ingress/thread.ts): the HTTP app —
 * Slack routes, alert webhooks, GET /healthz and GET /metrics — on an event loop of its own, with
 * its own Temporal client, so an acknowledgement never waits behind the worker's activations,
 * activities or a blocked main thread.
 *
 * It reads the same environment and config file as the main thread (already checked there), loads
 * the same runbook files (the registry is per thread), and asks the main thread for what only the
 * worker knows: GET /healthz's report and the metrics registry (the ingress's counters are applied
 * there, so /metrics is one exposition for the process).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram } from 'prom-client';
import { ConfigError, parseEnv } from '../config/env';
import { incidentPolicy, loadFileConfig } from '../config/file';
import { createLogger } from '../config/logger';
import { startTracing } from '../config/telemetry';
import { checkConfigRunbooks, loadConfiguredRunbooks } from '../client/runbook-files';
import { connectClient } from '../client/connection';
import { tracingClientInterceptors } from '../client/tracing';
import { buildApp, type HealthReport } from './app';
import { IngressMetrics } from './metrics';
import { ROUTE_MODULES } from './routes';
import type { IngressThreadData, ToIngress, ToMain } from './thread';

const port = parentPort!;
const data = workerData as IngressThreadData;
const send = (message: ToMain) => port.postMessage(message);

let nextCall = 1;
const calls = new Map<number, { resolve: (value: unknown) => void; reject: (err: Error) => void }>();

/** Asks the main thread (health, metrics); answered in order with the metric updates sent before. */
function call<T>(what: 'health' | 'metrics'): Promise<T> {
  const id = nextCall++;
  return new Promise<T>((resolve, reject) => {
    calls.set(id, { resolve: resolve as (value: unknown) => void, reject });
    send({ type: 'call', id, what });
  });
}

/**
 * Every counter, gauge and histogram update made on this thread's metrics is applied to the main
 * thread's registry instead (one exposition, and the worker's own figures beside the ingress's).
 */
function forwardMetrics(metrics: IngressMetrics): void {
  for (const [field, metric] of Object.entries(metrics)) {
    if (!(metric instanceof Counter || metric instanceof Gauge || metric instanceof Histogram)) continue;
    for (const method of ['inc', 'dec', 'set', 'observe'] as const) {
      if (typeof (metric as unknown as Record<string, unknown>)[method] !== 'function') continue;
      (metric as unknown as Record<string, unknown>)[method] = (...args: unknown[]) =>
        send({ type: 'metric', field, method, args });
    }
  }
}

/**
 * The main thread reached this server a moment ago: a connect that times out here (5 s each, a
 * loaded machine) is tried again before `firebreak start` gives up.
 */
async function connectWithRetries<T>(connect: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await connect();
    } catch (err) {
      if (attempt >= attempts) throw err;
    }
  }
}

async function main(): Promise<void> {
  const env = parseEnv(data.source);
  const logger = createLogger({ level: env.FIREBREAK_LOG_LEVEL }).child({ thread: 'ingress' });
  const fileConfig = await loadFileConfig(env.FIREBREAK_CONFIG);
  // Skipped files were reported by the main thread; here they only need registering.
  await loadConfiguredRunbooks(env, fileConfig);
  const config = checkConfigRunbooks(fileConfig, env);
  const policy = incidentPolicy(config);
  const tracing = await startTracing(env, data.version);
  const { client, connection } = await connectWithRetries(() =>
    connectClient(env, data.address, tracingClientInterceptors(tracing)),
  );
  const metrics = new IngressMetrics({ defaultMetrics: false });
  forwardMetrics(metrics);
  metrics.render = () => call<string>('metrics');
  const app = await buildApp({
    client,
    env,
    config,
    policy,
    health: () => call<HealthReport>('health'),
    routes: ROUTE_MODULES,
    logger,
    metrics,
    tracer: tracing?.tracer,
  });
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      // Stops taking requests, lets started work finish (boundedly: the Slack routes' drain).
      await app.close();
      await connection.close().catch(() => undefined);
      await tracing?.shutdown().catch(() => undefined);
    })());
  port.on('message', (message: ToIngress) => {
    if (message.type === 'reply') {
      const pending = calls.get(message.id);
      calls.delete(message.id);
      if (message.error !== undefined) pending?.reject(new Error(message.error));
      else pending?.resolve(message.value);
    } else if (message.type === 'stop') {
      void stop().then(
        () => send({ type: 'stopped' }),
        (err: unknown) => send({ type: 'stopped', error: (err as Error)?.message ?? String(err) }),
      );
    }
  });
  try {
    await app.listen({ host: data.host, port: data.port });
  } catch (err) {
    await stop();
    throw err;
  }
  send({ type: 'listening', port: (app.server.address() as AddressInfo).port });
}

main().catch((err: unknown) => {
  const error = err as Error;
  send({
    type: 'failed',
    message: error?.message ?? String(err),
    configError: err instanceof ConfigError,
  });
});

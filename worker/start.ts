/**
 * `firebreak start`: the whole engine in one process — the embedded Temporal dev server (unless
 * TEMPORAL_ADDRESS points at a cluster), the worker, and the ingress HTTP server. Shutdown runs in
 * order: ingress stops taking requests, the worker drains, then the dev server stops.
 */
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Worker } from '@temporalio/worker';
import { ConfigError, parseEnv, type Env } from '../config/env';
import { incidentPolicy, loadFileConfig } from '../config/file';
import { buildApp, type HealthReport } from '../ingress/app';
import { ROUTE_MODULES } from '../ingress/routes';
import { prepareNamespace, startDevServer, type DevServer } from './devserver';
import { startArchiver } from './archiver';
import { connectClient, connectWorker } from './temporal';
import { createFirebreakWorker } from './worker';

export interface RunningFirebreak {
  env: Env;
  url: string;
  temporalAddress: string;
  uiUrl?: string;
  stop(): Promise<void>;
  /** Resolves when the engine stopped (a signal, or the worker failed). */
  done: Promise<void>;
}

export async function startFirebreak(
  source: NodeJS.ProcessEnv = process.env,
  log: (line: string) => void = (line) => console.error(line),
): Promise<RunningFirebreak> {
  const env = parseEnv(source);
  const config = await loadFileConfig(env.FIREBREAK_CONFIG);
  const policy = incidentPolicy(config);
  const slackChannel = env.FIREBREAK_SLACK_CHANNEL ?? config.slack.channel;

  const cleanups: (() => Promise<void>)[] = [];
  const cleanup = async () => {
    for (const step of cleanups.reverse()) {
      try {
        await step();
      } catch (err) {
        log(`shutdown step failed: ${(err as Error).message}`);
      }
    }
    cleanups.length = 0;
  };

  try {
    let devServer: DevServer | undefined;
    let address = env.TEMPORAL_ADDRESS;
    if (!address) {
      log(`Starting the embedded Temporal dev server on 127.0.0.1:${env.FIREBREAK_TEMPORAL_PORT}...`);
      devServer = await startDevServer({
        dataDir: path.resolve(env.FIREBREAK_DATA_DIR, 'temporal'),
        port: env.FIREBREAK_TEMPORAL_PORT,
        namespace: env.TEMPORAL_NAMESPACE,
        log,
      });
      cleanups.push(() => devServer!.stop());
      address = devServer.address;
      log(`Temporal ready at ${address}; Web UI ${devServer.uiUrl}`);
    }

    const { client, connection } = await connectClient(env, address);
    cleanups.push(() => connection.close());
    if (!devServer) {
      try {
        await prepareNamespace(connection, env.TEMPORAL_NAMESPACE, log);
      } catch (err) {
        // On a managed cluster an operator may own namespace settings; incidents still run.
        log(`Could not register search attributes / retention on ${address}: ${(err as Error).message}`);
      }
    }

    const workerConnection = await connectWorker(env, address);
    cleanups.push(() => workerConnection.close());
    const worker: Worker = await createFirebreakWorker({ env, connection: workerConnection, slackChannel, log });
    const workerRun = worker.run();
    cleanups.push(async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await workerRun.catch(() => undefined);
    });

    if (env.FIREBREAK_ARCHIVE_DIR) {
      const archiveDir = path.resolve(env.FIREBREAK_ARCHIVE_DIR);
      const archiver = startArchiver({ client, archiveDir, taskQueue: env.FIREBREAK_TASK_QUEUE, log });
      cleanups.push(() => archiver.stop());
      log(`Postmortems of closed incidents are archived to ${archiveDir}`);
    }

    const health = async (): Promise<HealthReport> => {
      let temporalError: string | undefined;
      try {
        await Promise.race([
          connection.healthService.check({}),
          new Promise((_, reject) => setTimeout(() => reject(new Error('health check timed out')), 2_000)),
        ]);
      } catch (err) {
        temporalError = (err as Error).message;
      }
      const workerState = worker.getState();
      const report: HealthReport = {
        ok: !temporalError && workerState === 'RUNNING',
        temporal: { ok: !temporalError, address, namespace: env.TEMPORAL_NAMESPACE, error: temporalError },
        worker: { ok: workerState === 'RUNNING', state: workerState, taskQueue: env.FIREBREAK_TASK_QUEUE },
        slack: { configured: Boolean(env.SLACK_BOT_TOKEN) },
      };
      return report;
    };

    const app: FastifyInstance = await buildApp({
      client,
      env,
      config,
      policy,
      health,
      routes: ROUTE_MODULES,
      logger: env.FIREBREAK_LOG_LEVEL === 'debug' ? { level: 'debug' } : false,
    });
    await app.listen({ host: env.FIREBREAK_HOST, port: env.FIREBREAK_PORT });
    // Ingress stops first on shutdown: no new incidents while the worker drains.
    cleanups.push(() => app.close());
    const url = `http://${env.FIREBREAK_HOST}:${env.FIREBREAK_PORT}`;
    log(`Firebreak ready: ingress ${url} (GET /healthz), task queue ${env.FIREBREAK_TASK_QUEUE}`);

    let stopping: Promise<void> | undefined;
    const stop = () => (stopping ??= cleanup());
    const done = workerRun.then(
      () => stop(),
      async (err) => {
        log(`The worker stopped with an error: ${(err as Error).message}`);
        await stop();
        throw err;
      },
    );
    return { env, url, temporalAddress: address, uiUrl: devServer?.uiUrl, stop, done };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** Entry point for `firebreak start`: runs until SIGINT/SIGTERM; a second signal forces exit. */
export async function runStartCommand(): Promise<number> {
  let running: RunningFirebreak;
  try {
    running = await startFirebreak();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      return 2;
    }
    // A port in use, an unreachable cluster, a dev server that would not start: the reason, not a stack.
    console.error(`firebreak start: ${(err as Error)?.message ?? String(err)}`);
    return 1;
  }
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      console.error(`${signal} again: exiting without waiting`);
      process.exit(130);
    }
    console.error(`${signal}: shutting down (ingress, worker drain, Temporal)...`);
    void running.stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await running.done;
  } catch {
    return 1;
  }
  console.error('Firebreak stopped.');
  return 0;
}

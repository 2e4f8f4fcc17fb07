/**
 * `firebreak start`: the whole engine in one process — the embedded Temporal dev server (unless
 * TEMPORAL_ADDRESS points at a cluster), the worker on the main thread, and the ingress HTTP server
 * on a thread of its own (ingress/thread.ts). Shutdown runs in order: ingress stops taking
 * requests, the worker drains, then the dev server stops.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigError, parseEnv, type Env } from '../config/env';
import { openAccessWarning } from '../config/access';
import { incidentPolicy, loadFileConfig } from '../config/file';
import { createLogger, lineLog, type Logger } from '../config/logger';
import { escalationReach } from '../config/reach';
import type { HealthReport } from '../ingress/app';
import { IngressMetrics } from '../ingress/metrics';
import { plainEnvironment, startIngressThread } from '../ingress/thread';
import { checkConfigRunbooks, loadConfiguredRunbooks } from '../client/runbook-files';
import { formatIssue } from '../runbooks/files/validate';
import { prepareNamespace, superviseDevServer, type SupervisedDevServer } from './devserver';
import { startArchiver } from './archiver';
import { connectClient } from '../client/connection';
import { connectWorker } from './temporal';
import { BuildFleet } from './builds';
import { startTracing } from '../config/telemetry';
import { tracingClientInterceptors } from '../client/tracing';

/** package.json's version: the traces' service.version. */
function firebreakVersion(): string {
  try {
    return String(JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version);
  } catch {
    return 'unknown';
  }
}

export interface RunningFirebreak {
  env: Env;
  logger: Logger;
  url: string;
  temporalAddress: string;
  uiUrl?: string;
  stop(): Promise<void>;
  /** Resolves when the engine stopped (a signal, or the worker failed). */
  done: Promise<void>;
}

/** Bounds GET /healthz's call to Temporal: a hung cluster reads as down, not as a hung probe. */
const HEALTH_CHECK_TIMEOUT_MS = 2_000;

/** FIREBREAK_TEMPORAL_MAX_RESTARTS counts the embedded server's restarts within this window. */
const DEV_SERVER_RESTART_WINDOW_MS = 10 * 60_000;

/** How long a shutdown after a failure may take before the process exits anyway. */
const FAILED_STOP_MS = 15_000;

/** How often the worker's connection is checked for FIREBREAK_TEMPORAL_LOST_SECONDS. */
const CONNECTION_CHECK_INTERVAL_MS = 1_000;

/**
 * Checks a connection every few seconds; `lost` rejects once it has failed every check for
 * `lostAfterMs` in a row. Transient outages (a server restart, a network blip) pass unnoticed:
 * the SDK's connections reconnect by themselves.
 */
function watchConnection(options: {
  check: () => Promise<unknown>;
  lostAfterMs: number;
  describe: (seconds: number) => string;
}): { lost: Promise<never>; stop(): void } {
  let failingSince: number | undefined;
  let reject!: (err: Error) => void;
  const lost = new Promise<never>((_resolve, rejectLost) => (reject = rejectLost));
  lost.catch(() => undefined);
  const failing = (since: number) => {
    failingSince ??= since;
    const down = Date.now() - failingSince;
    if (down >= options.lostAfterMs) reject(new Error(options.describe(Math.round(down / 1000))));
  };
  // The worker's native connection retries a call against a dead server for many seconds and ignores
  // an abort signal: a check still pending after the timeout counts as failing from when it began.
  let pendingSince: number | undefined;
  const timer = setInterval(() => {
    if (pendingSince !== undefined) {
      if (Date.now() - pendingSince >= HEALTH_CHECK_TIMEOUT_MS) failing(pendingSince);
      return;
    }
    const began = (pendingSince = Date.now());
    options
      .check()
      .then(
        () => (failingSince = undefined),
        () => failing(began),
      )
      .finally(() => (pendingSince = undefined));
  }, CONNECTION_CHECK_INTERVAL_MS);
  timer.unref();
  return { lost, stop: () => clearInterval(timer) };
}

export async function startFirebreak(
  source: NodeJS.ProcessEnv = process.env,
  givenLogger?: Logger,
): Promise<RunningFirebreak> {
  const env = parseEnv(source);
  const logger = givenLogger ?? createLogger({ level: env.FIREBREAK_LOG_LEVEL });
  const fileConfig = await loadFileConfig(env.FIREBREAK_CONFIG);
  // Runbook files: a bad file is reported and skipped; a missing directory is a ConfigError (exit 2).
  const runbookFiles = await loadConfiguredRunbooks(env, fileConfig);
  for (const issue of runbookFiles.issues)
    logger.warn({ runbookFile: issue.file }, `Runbook file skipped: ${formatIssue(issue)}`);
  // Routes and permissions may name runbook files: checked once they have loaded (an unknown name
  // is exit 2), aliases resolved to ids before the policy is made.
  const config = checkConfigRunbooks(fileConfig, env);
  const policy = incidentPolicy(config);
  if (runbookFiles.loaded.length > 0) {
    logger.info(
      { runbooks: runbookFiles.loaded.map((entry) => entry.definition.id) },
      `${runbookFiles.loaded.length} runbook files loaded`,
    );
  }
  const openAccess = openAccessWarning(
    config.permissions,
    config.approvers.users.length + config.approvers.groups.length,
  );
  if (openAccess) logger.warn(openAccess);
  const slackChannel = env.FIREBREAK_SLACK_CHANNEL ?? config.slack.channel;
  const reach = escalationReach(policy, env);
  if (!reach.ok)
    logger.warn({ tiers: reach.tiers }, `Nobody will be paged: ${reach.reason}. Run \`firebreak doctor\`.`);

  const cleanups: (() => Promise<void>)[] = [];
  // First started, last stopped: the spans of the shutdown itself are flushed too.
  const tracing = await startTracing(env, firebreakVersion());
  if (tracing) {
    cleanups.push(() => tracing.shutdown());
    logger.info({ url: tracing.url }, `Traces are exported over OTLP to ${tracing.url}`);
  }
  const cleanup = async () => {
    for (const step of cleanups.reverse()) {
      try {
        await step();
      } catch (err) {
        logger.warn({ err }, 'shutdown step failed');
      }
    }
    cleanups.length = 0;
  };

  try {
    let devServer: SupervisedDevServer | undefined;
    let address = env.TEMPORAL_ADDRESS;
    if (!address) {
      logger.info(`Starting the embedded Temporal dev server on 127.0.0.1:${env.FIREBREAK_TEMPORAL_PORT}...`);
      const supervisorLog = logger.child({ component: 'devserver-supervisor' });
      devServer = await superviseDevServer(
        {
          dataDir: path.resolve(env.FIREBREAK_DATA_DIR, 'temporal'),
          port: env.FIREBREAK_TEMPORAL_PORT,
          namespace: env.TEMPORAL_NAMESPACE,
          log: lineLog(logger, 'devserver'),
          sqliteSync: env.FIREBREAK_TEMPORAL_SQLITE_SYNC,
        },
        {
          maxRestarts: env.FIREBREAK_TEMPORAL_MAX_RESTARTS,
          windowMs: DEV_SERVER_RESTART_WINDOW_MS,
          report: {
            info: (line) => supervisorLog.info({ temporal: devServer?.health() }, line),
            error: (line) => supervisorLog.error({ temporal: devServer?.health() }, line),
          },
        },
      );
      cleanups.push(() => devServer!.stop());
      address = devServer.address;
      logger.info({ address, ui: devServer.uiUrl }, `Temporal ready at ${address}; Web UI ${devServer.uiUrl}`);
    }

    const { client, connection } = await connectClient(env, address, tracingClientInterceptors(tracing));
    cleanups.push(() => connection.close());
    if (!devServer) {
      try {
        await prepareNamespace(connection, env.TEMPORAL_NAMESPACE, lineLog(logger, 'namespace'));
      } catch (err) {
        // On a managed cluster an operator may own namespace settings; incidents still run.
        logger.warn({ err, address }, 'Could not register search attributes / retention');
      }
    }

    const workerConnection = await connectWorker(env, address, logger);
    cleanups.push(() => workerConnection.close());
    const watchdog = watchConnection({
      check: () =>
        workerConnection.withAbortSignal(AbortSignal.timeout(HEALTH_CHECK_TIMEOUT_MS), () =>
          workerConnection.healthService.check({}),
        ),
      lostAfterMs: env.FIREBREAK_TEMPORAL_LOST_SECONDS * 1000,
      describe: (seconds) =>
        `the worker could not reach Temporal at ${address} for ${seconds} s (FIREBREAK_TEMPORAL_LOST_SECONDS)`,
    });
    cleanups.push(async () => watchdog.stop());
    // One registry for the process: refusals the worker's workflows count show on the ingress's /metrics.
    const metrics = new IngressMetrics();
    // Today's build and every older build that still has open incidents, each with its own worker.
    const fleet = await BuildFleet.start({
      env,
      logger,
      workerConnection,
      client,
      connection,
      slackChannel,
      refusals: metrics.accessRefusals,
      tracing,
      incidentMetrics: metrics,
    });
    const workerRun = fleet.done;
    metrics.countOpenIncidents((query) => client.workflow.count(query).then((r) => r.count), env.FIREBREAK_TASK_QUEUE);
    cleanups.push(() => fleet.stop());

    if (env.FIREBREAK_ARCHIVE_DIR) {
      const archiveDir = path.resolve(env.FIREBREAK_ARCHIVE_DIR);
      const archiver = startArchiver({
        client,
        archiveDir,
        taskQueue: env.FIREBREAK_TASK_QUEUE,
        log: lineLog(logger, 'archiver'),
      });
      cleanups.push(() => archiver.stop());
      logger.info({ archiveDir }, `Postmortems of closed incidents are archived to ${archiveDir}`);
    }

    const health = async (): Promise<HealthReport> => {
      let temporalError: string | undefined;
      // While the embedded server is being started again the engine is down, whatever a retried
      // check would say once the server is back: say so at once.
      const supervision = devServer?.health();
      if (supervision && supervision.state !== 'running') {
        temporalError = `the embedded Temporal server is ${supervision.state} (restart ${supervision.restarts})`;
      } else {
        try {
          await connection.withAbortSignal(AbortSignal.timeout(HEALTH_CHECK_TIMEOUT_MS), () =>
            connection.healthService.check({}),
          );
        } catch (err) {
          temporalError = (err as Error).message;
        }
      }
      const workerState = fleet.state();
      const ok = !temporalError && workerState === 'RUNNING';
      const report: HealthReport = {
        ok,
        // Degraded still answers 200: the engine runs incidents, it only cannot page anyone.
        status: !ok ? 'down' : reach.ok ? 'ok' : 'degraded',
        ...(reach.ok ? {} : { reason: reach.reason }),
        escalation: { ok: reach.ok, tiers: reach.tiers },
        temporal: {
          ok: !temporalError,
          address,
          namespace: env.TEMPORAL_NAMESPACE,
          error: temporalError,
          // The embedded server's supervision: `restarting` while it is being started again.
          ...supervision,
        },
        worker: { ok: workerState === 'RUNNING', state: workerState, taskQueue: env.FIREBREAK_TASK_QUEUE },
        builds: fleet.report(),
        slack: { configured: Boolean(env.SLACK_BOT_TOKEN) },
      };
      return report;
    };

    // The ingress answers on a thread of its own (ingress/thread.ts): an acknowledgement never waits
    // behind the worker's activations and activities on this one.
    const ingress = await startIngressThread({
      data: {
        source: plainEnvironment(source),
        address,
        host: env.FIREBREAK_HOST,
        port: env.FIREBREAK_PORT,
        version: firebreakVersion(),
      },
      health,
      metrics,
      warn: (line) => logger.warn(line),
    });
    // Ingress stops first on shutdown: no new incidents while the worker drains.
    cleanups.push(() => ingress.stop());
    const url = `http://${env.FIREBREAK_HOST}:${ingress.port}`;
    logger.info(
      { url, taskQueue: env.FIREBREAK_TASK_QUEUE },
      `Firebreak ready: ingress ${url} (GET /healthz), task queue ${env.FIREBREAK_TASK_QUEUE}`,
    );

    let stopping: Promise<void> | undefined;
    const stop = () => (stopping ??= cleanup());
    // The engine ends when the worker does, or when what it needs is gone past its bound: the dev
    // server restarted too often, or Temporal unreachable too long. Either exits non-zero.
    const failures: Promise<never>[] = [watchdog.lost, ingress.failed, ...(devServer ? [devServer.givenUp] : [])];
    const done = Promise.race([workerRun, ...failures]).then(
      () => stop(),
      async (err) => {
        logger.error({ err }, `Firebreak is stopping: ${(err as Error)?.message ?? String(err)}`);
        // What is gone may hold the shutdown (a worker draining against no server): bounded, so the
        // process still exits non-zero for its supervisor.
        const finished = await Promise.race([stop().then(() => true), sleep(FAILED_STOP_MS).then(() => false)]);
        if (!finished) {
          logger.warn(`Shutdown did not finish within ${FAILED_STOP_MS / 1000} s; exiting anyway`);
          devServer?.process.kill('SIGKILL');
        }
        throw err;
      },
    );
    return { env, logger, url, temporalAddress: address, uiUrl: devServer?.uiUrl, stop, done };
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
    // The command's own answer, plain text like every CLI error: the logger may not even be set up.
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
      running.logger.warn({ signal }, `${signal} again: exiting without waiting`);
      process.exit(130);
    }
    running.logger.info({ signal }, `${signal}: shutting down (ingress, worker drain, Temporal)...`);
    void running.stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await running.done;
  } catch {
    return 1;
  }
  running.logger.info('Firebreak stopped.');
  return 0;
}

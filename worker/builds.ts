/**
 * The workers of one `firebreak start`: today's build, plus one per older build that still has open
 * incidents pinned to it, all on the same task queue and sharing the same activity implementations.
 * An older build's worker stops once its last incident closed (seen on two sweeps in a row, so a
 * continue-as-new that visibility has not caught up with yet is not mistaken for a close), and its
 * kept bundle is pruned.
 */
import type { Client, Connection } from '@temporalio/client';
import type { NativeConnection, Worker } from '@temporalio/worker';
import type { Counter } from 'prom-client';
import type { Env } from '../config/env';
import { lineLog, type Logger } from '../config/logger';
import { createActivities } from './activities';
import type { Tracing } from '../config/telemetry';
import type { IngressMetrics } from '../ingress/metrics';
import { createFirebreakWorker, currentBuild } from './worker';
import {
  deploymentVersion,
  keepBuild,
  keptBuilds,
  loadKeptBuild,
  openIncidentsOn,
  pruneBuild,
  setCurrentBuild,
  type WorkflowBuild,
} from './versioning';

interface RunningBuild {
  buildId: string;
  worker: Worker;
  run: Promise<void>;
  /** Sweeps in a row that found no open incident on it. */
  idleSweeps: number;
}

export interface BuildFleetOptions {
  env: Env;
  logger: Logger;
  workerConnection: NativeConnection;
  client: Client;
  connection: Connection;
  slackChannel?: string;
  refusals?: Counter<'action' | 'channel'>;
  tracing?: Tracing;
  incidentMetrics?: IngressMetrics;
}

export interface BuildsReport {
  current: string;
  /** Older builds whose workers run for their open incidents. */
  older: string[];
}

const IDLE_SWEEPS_BEFORE_STOP = 2;

export class BuildFleet {
  private readonly older = new Map<string, RunningBuild>();
  private sweepTimer?: NodeJS.Timeout;
  private sweeping?: Promise<void>;
  private stopped = false;

  private constructor(
    private readonly options: BuildFleetOptions,
    private readonly activities: object,
    readonly current: RunningBuild,
  ) {}

  /** Starts today's worker, makes it the current version, then the workers of older builds still in use. */
  static async start(options: BuildFleetOptions): Promise<BuildFleet> {
    const { env, logger } = options;
    const activities = createActivities(env, {
      slackChannel: options.slackChannel,
      log: lineLog(logger, 'activities'),
    });
    const build = await currentBuild(env, logger);
    // Unversioned workers run any incident, so nothing needs an older build kept.
    if (env.FIREBREAK_WORKER_VERSIONING) await keepBuild(env, build);
    const current = await startWorker(options, activities, build);
    const fleet = new BuildFleet(options, activities, current);
    try {
      if (env.FIREBREAK_WORKER_VERSIONING) {
        await setCurrentBuild(options.connection, {
          namespace: env.TEMPORAL_NAMESPACE,
          version: deploymentVersion(env, build.buildId),
          identity: `firebreak-start@${process.pid}`,
        });
        logger.info({ build: build.buildId }, `Build ${build.buildId} is the current version: new incidents run on it`);
        await fleet.resumeOlderBuilds();
        fleet.sweepTimer = setInterval(() => void fleet.sweep(), env.FIREBREAK_BUILD_SWEEP_SECONDS * 1000);
        fleet.sweepTimer.unref();
      }
    } catch (err) {
      await fleet.stop();
      throw err;
    }
    return fleet;
  }

  report(): BuildsReport {
    return { current: this.current.buildId, older: [...this.older.keys()].sort() };
  }

  /** Every kept build other than today's: a worker if incidents are still pinned to it, else pruned. */
  private async resumeOlderBuilds(): Promise<void> {
    const { env, logger, client } = this.options;
    for (const buildId of await keptBuilds(env)) {
      if (buildId === this.current.buildId) continue;
      // Unknown (visibility unreachable) counts as in use: a needless worker costs less than a stranded incident.
      const open = await openIncidentsOn(client, deploymentVersion(env, buildId)).catch((err: unknown) => {
        logger.warn({ err, build: buildId }, `Could not count build ${buildId}'s open incidents; running it`);
        return -1;
      });
      if (open === 0) {
        await pruneBuild(env, buildId);
        logger.info({ build: buildId }, `Build ${buildId} has no open incidents: its kept bundle is pruned`);
        continue;
      }
      const build = await loadKeptBuild(env, buildId);
      if (!build) {
        logger.error({ build: buildId, open }, `Build ${buildId} has ${open} open incident(s) but no readable bundle`);
        continue;
      }
      this.older.set(buildId, await startWorker(this.options, this.activities, build));
      logger.info(
        { build: buildId, open },
        `Build ${buildId} runs beside the current one for ${open} open incident(s)`,
      );
    }
  }

  /** Stops the workers of older builds whose last incident has closed. */
  sweep(): Promise<void> {
    this.sweeping ??= this.sweepOnce().finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }

  private async sweepOnce(): Promise<void> {
    const { env, logger, client } = this.options;
    for (const running of [...this.older.values()]) {
      if (this.stopped) return;
      try {
        const open = await openIncidentsOn(client, deploymentVersion(env, running.buildId));
        running.idleSweeps = open === 0 ? running.idleSweeps + 1 : 0;
        if (running.idleSweeps < IDLE_SWEEPS_BEFORE_STOP) continue;
        await stopWorker(running);
        await pruneBuild(env, running.buildId);
        // Listed (in /healthz) until its worker has stopped and its bundle is gone: what the engine
        // reports must not run ahead of the disk. A failure leaves it listed; the next sweep retries.
        this.older.delete(running.buildId);
        logger.info(
          { build: running.buildId },
          `Build ${running.buildId}: its last incident closed; its worker stopped and its bundle was pruned`,
        );
      } catch (err) {
        logger.warn({ err, build: running.buildId }, 'Could not check an older build for open incidents');
      }
    }
  }

  /** Resolves when today's worker stops; rejects if it failed. */
  get done(): Promise<void> {
    return this.current.run;
  }

  state(): string {
    return this.current.worker.getState();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.sweepTimer);
    await this.sweeping?.catch(() => undefined);
    await Promise.all([this.current, ...this.older.values()].map(stopWorker));
  }
}

async function startWorker(
  options: BuildFleetOptions,
  activities: object,
  build: WorkflowBuild,
): Promise<RunningBuild> {
  const worker = await createFirebreakWorker({
    env: options.env,
    connection: options.workerConnection,
    logger: options.logger,
    activities,
    refusals: options.refusals,
    tracing: options.tracing,
    incidentMetrics: options.incidentMetrics,
    build,
  });
  const run = worker.run();
  // An older build's worker failing leaves its incidents waiting for the next start; it does not stop the engine.
  run.catch((err: unknown) =>
    options.logger.error({ err, build: build.buildId }, 'A build worker stopped with an error'),
  );
  return { buildId: build.buildId, worker, run, idleSweeps: 0 };
}

async function stopWorker(running: RunningBuild): Promise<void> {
  if (running.worker.getState() === 'RUNNING') running.worker.shutdown();
  await running.run.catch(() => undefined);
}

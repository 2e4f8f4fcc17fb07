/**
 * The Firebreak worker: the runbook workflows and every activity on task queue `firebreak`.
 */
import { Worker, type NativeConnection, type WorkerDeploymentOptions } from '@temporalio/worker';
import type { Counter } from 'prom-client';
import type { Env } from '../config/env';
import { lineLog, type Logger } from '../config/logger';
import { createActivities } from './activities';
import { loadWorkflowBundle } from './bundle';
import { createSinks } from './sinks';
import { buildOf, deploymentVersion, type WorkflowBuild } from './versioning';

/**
 * Pinned by default: an incident finishes on the build it started on, across continue-as-new too
 * (docs/contributing.md). The deployment hold and the refusal log opt out (AUTO_UPGRADE, workflows/).
 */
export function deploymentOptions(env: Env, buildId: string): WorkerDeploymentOptions | undefined {
  if (!env.FIREBREAK_WORKER_VERSIONING) return undefined;
  return {
    version: deploymentVersion(env, buildId),
    useWorkerVersioning: true,
    defaultVersioningBehavior: 'PINNED',
  };
}

/** Today's build: FIREBREAK_WORKFLOW_BUNDLE, the cached bundle of these sources, or a fresh bundle. */
export async function currentBuild(env: Env, logger: Logger): Promise<WorkflowBuild> {
  return buildOf((await loadWorkflowBundle(env.FIREBREAK_WORKFLOW_BUNDLE, logger)).code);
}

export async function createFirebreakWorker(options: {
  env: Env;
  connection: NativeConnection;
  slackChannel?: string;
  logger: Logger;
  /** Tests and benchmarks inject activities; production builds them from the environment. */
  activities?: object;
  /** The ingress's refusal counter: refusals the workflows see are counted on the same /metrics. */
  refusals?: Counter<'action' | 'channel'>;
  /** The build to run (an older one kept for its open incidents); today's build by default. */
  build?: WorkflowBuild;
}): Promise<Worker> {
  const { env, logger } = options;
  const build = options.build ?? (await currentBuild(env, logger));
  const versioning = deploymentOptions(env, build.buildId);
  return Worker.create({
    connection: options.connection,
    namespace: env.TEMPORAL_NAMESPACE,
    taskQueue: env.FIREBREAK_TASK_QUEUE,
    workflowBundle: { code: build.code },
    ...(versioning ? { workerDeploymentOptions: versioning } : {}),
    activities:
      options.activities ??
      createActivities(env, { slackChannel: options.slackChannel, log: lineLog(logger, 'activities') }),
    sinks: createSinks(options.refusals),
    // Drain in-flight activities on shutdown instead of abandoning them mid-remediation.
    shutdownGraceTime: '20 seconds',
  });
}

/**
 * The Firebreak worker: the runbook workflows and every activity on task queue `firebreak`.
 */
import {
  Worker,
  type NativeConnection,
  type WorkerDeploymentOptions,
  type WorkerInterceptors,
} from '@temporalio/worker';
import type { Counter } from 'prom-client';
import type { Env } from '../config/env';
import { lineLog, type Logger } from '../config/logger';
import { activityHookInterceptors } from './activity-hook';
import { createActivities } from './activities';
import { loadWorkflowBundle } from './bundle';
import type { Tracing } from '../config/telemetry';
import type { IngressMetrics } from '../ingress/metrics';
import { createSinks } from './sinks';
import { tracingInterceptors } from './tracing';
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
  /** The process's trace exporter (OTEL_EXPORTER_OTLP_ENDPOINT); no activity spans without it. */
  tracing?: Tracing;
  /** The /metrics the incidents' events are counted into (the ingress's, in `firebreak start`). */
  incidentMetrics?: IngressMetrics;
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
    sinks: createSinks(options.refusals, options.tracing, options.incidentMetrics),
    interceptors: withActivityHook(tracingInterceptors(options.tracing)),
    // Drain in-flight activities on shutdown instead of abandoning them mid-remediation.
    shutdownGraceTime: '20 seconds',
    ...workerSizing(env),
  });
}

/**
 * The chaos sweep's activity hook after the worker's own interceptors, when the test-only
 * FIREBREAK_TEST_ACTIVITY_HOOK is set (worker/activity-hook.ts); unchanged otherwise.
 */
function withActivityHook(interceptors: WorkerInterceptors): WorkerInterceptors {
  const hook = activityHookInterceptors();
  return hook.length === 0 ? interceptors : { ...interceptors, activity: [...(interceptors.activity ?? []), ...hook] };
}

/**
 * How much the worker holds and runs at once, explicit rather than the SDK's heap-derived guess.
 * Open incidents mostly wait (for a gate, an acknowledgement, a timer): an incident out of the
 * cache costs no memory and is replayed from its history when it next wakes, so the cache bounds
 * the worker's memory whatever the number of open incidents (figures: docs/performance.md, Engine).
 * Workflow tasks are short CPU bursts; activities mostly wait on the Kubernetes API and Slack, so a
 * storm of incidents needs many activity slots and a few more workflow-task slots than cores.
 */
export function workerSizing(env: Pick<Env, 'FIREBREAK_WORKFLOW_CACHE_SIZE'>) {
  return {
    maxCachedWorkflows: env.FIREBREAK_WORKFLOW_CACHE_SIZE,
    maxConcurrentWorkflowTaskExecutions: 16,
    maxConcurrentActivityTaskExecutions: 200,
  };
}

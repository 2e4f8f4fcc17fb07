/**
 * The Firebreak worker: the runbook workflows and every activity on task queue `firebreak`.
 */
import { Worker, type NativeConnection } from '@temporalio/worker';
import type { Counter } from 'prom-client';
import type { Env } from '../config/env';
import { lineLog, type Logger } from '../config/logger';
import { createActivities } from './activities';
import { loadWorkflowBundle } from './bundle';
import { createSinks } from './sinks';

export async function createFirebreakWorker(options: {
  env: Env;
  connection: NativeConnection;
  slackChannel?: string;
  logger: Logger;
  /** Tests and benchmarks inject activities; production builds them from the environment. */
  activities?: object;
  /** The ingress's refusal counter: refusals the workflows see are counted on the same /metrics. */
  refusals?: Counter<'action' | 'channel'>;
}): Promise<Worker> {
  const { env, logger } = options;
  return Worker.create({
    connection: options.connection,
    namespace: env.TEMPORAL_NAMESPACE,
    taskQueue: env.FIREBREAK_TASK_QUEUE,
    workflowBundle: await loadWorkflowBundle(env.FIREBREAK_WORKFLOW_BUNDLE, logger),
    activities:
      options.activities ??
      createActivities(env, { slackChannel: options.slackChannel, log: lineLog(logger, 'activities') }),
    sinks: createSinks(options.refusals),
    // Drain in-flight activities on shutdown instead of abandoning them mid-remediation.
    shutdownGraceTime: '20 seconds',
  });
}

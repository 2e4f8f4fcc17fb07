/**
 * The Firebreak worker: the runbook workflows and every activity on task queue `firebreak`.
 */
import { Worker, type NativeConnection } from '@temporalio/worker';
import type { Env } from '../config/env';
import { createActivities } from './activities';
import { loadWorkflowBundle } from './bundle';

export async function createFirebreakWorker(options: {
  env: Env;
  connection: NativeConnection;
  slackChannel?: string;
  log: (line: string) => void;
  /** Tests and benchmarks inject activities; production builds them from the environment. */
  activities?: object;
}): Promise<Worker> {
  const { env, log } = options;
  return Worker.create({
    connection: options.connection,
    namespace: env.TEMPORAL_NAMESPACE,
    taskQueue: env.FIREBREAK_TASK_QUEUE,
    workflowBundle: await loadWorkflowBundle(env.FIREBREAK_WORKFLOW_BUNDLE, log),
    activities: options.activities ?? createActivities(env, { slackChannel: options.slackChannel, log }),
    // Drain in-flight activities on shutdown instead of abandoning them mid-remediation.
    shutdownGraceTime: '20 seconds',
  });
}

/**
 * Versioning behaviour of the workflows that are not incidents. Incidents are PINNED (the worker's
 * default, worker/worker.ts); the deployment hold and the refusal log are shared by incidents of
 * every build and long-lived, so they follow the current build instead — and every change to them
 * needs `patched()` (docs/contributing.md). Only a versioned worker may state a behaviour: an
 * unversioned one (FIREBREAK_WORKER_VERSIONING=false, the tests' workers) states none.
 */
import { setWorkflowOptions, workflowInfo } from '@temporalio/workflow';

export function followCurrentBuild<A extends unknown[], R>(workflow: (...args: A) => Promise<R>): void {
  setWorkflowOptions(
    () => (workflowInfo().currentDeploymentVersion?.deploymentName ? { versioningBehavior: 'AUTO_UPGRADE' } : {}),
    workflow,
  );
}

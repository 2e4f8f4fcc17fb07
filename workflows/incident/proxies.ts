/**
 * Activity proxies, one per timeout/retry profile, each typed to the activities that belong to it
 * (the read proxy cannot restart a deployment). Activities are referenced by type only: the
 * implementations (and their clients) never enter the workflow bundle.
 */
import { CancellationScope, proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { KubernetesActivities } from '../../activities/kubernetes';
import type { SlackActivities } from '../../activities/slack';
import type { DiagnosticsActivities } from '../../activities/diagnostics';
import type { PagingActivities } from '../../activities/paging';
import type { EmailActivities } from '../../activities/email';
import type { HoldActivities } from '../../activities/hold';
import type { EvidenceActivities } from '../../activities/evidence';

/** Reads and probes: cheap, safe to repeat, and useless if late — give up after a few tries. */
const QUICK = {
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '10 seconds', maximumAttempts: 5 },
} as const;

/**
 * Slack and PagerDuty: the activities disable their clients' own retries and surface 429s, so
 * Temporal owns the backoff; a page that never lands must still end, hence the attempt cap. A
 * short start-to-close: a call lost with a crashed worker is retried in seconds, not minutes.
 */
const REMOTE_CALL = {
  startToCloseTimeout: '15 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 8 },
} as const;

/**
 * Mutations of the cluster: idempotent through the incident marker, so retries are safe. They
 * heartbeat on every API request, so an attempt lost with a crashed worker is retried after the
 * heartbeat timeout rather than the whole start-to-close.
 */
const LONG_REMEDIATION = {
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '15 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 10 },
} as const;

/**
 * Evidence: a heap profile or log streamed out of the cluster, or posted to Slack, can take
 * minutes at the 64 MiB cap; the activities heartbeat as bytes move, so a lost worker is noticed
 * in 30 s. Each attempt resumes from the evidence store (a finished capture is not taken again).
 */
const EVIDENCE = {
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 4 },
} as const;

/**
 * A change the workflow has sent is waited for even when the incident is cancelled: a request in
 * flight cannot be called back, so the change may already be applied, and only its result puts it
 * in the mitigation ledger that restoration reads (or tells close() a page needs resolving).
 */
function settledEvenIfCancelled<A extends object>(activities: A): A {
  return new Proxy(activities, {
    get(target, name, receiver) {
      const call: unknown = Reflect.get(target, name, receiver);
      if (typeof call !== 'function') return call;
      return (...args: unknown[]) => {
        // A change not yet sent is not sent once the incident is cancelled.
        const scope = CancellationScope.current();
        if (scope.consideredCancelled) return scope.cancelRequested;
        return CancellationScope.nonCancellable(() => call(...args) as Promise<unknown>);
      };
    },
  });
}

/** Reads of the cluster, and the read-only exec of a diagnostic command (heap profile). */
type KubernetesReads = Pick<
  KubernetesActivities,
  | 'listDeploymentPods'
  | 'listRecentEvents'
  | 'findOomKills'
  | 'readPodLogs'
  | 'readDeploymentSettings'
  | 'rolloutHistory'
  | 'execInPod'
>;

/** Changes to the cluster; each takes the incident id as its idempotency marker. */
export type KubernetesChanges = Pick<
  KubernetesActivities,
  'rolloutRestart' | 'rolloutUndo' | 'scaleDeployment' | 'setDeploymentEnv' | 'setContainerResources'
>;

export const kubeRead = proxyActivities<KubernetesReads>(QUICK);
export const kubeChange = settledEvenIfCancelled(proxyActivities<KubernetesChanges>(LONG_REMEDIATION));
export const diagnostics = proxyActivities<DiagnosticsActivities>(QUICK);
export const slack = proxyActivities<SlackActivities>(REMOTE_CALL);
export const evidence = proxyActivities<EvidenceActivities>(EVIDENCE);
/** Deployment holds: Temporal calls, idempotent, quick. */
export const holdCalls =
  proxyActivities<Omit<HoldActivities, 'isIncidentRunning' | 'requestHold' | 'claimFreeHolds'>>(QUICK);
/**
 * The claim of deployments nobody holds: one start of each hold, run beside the incident's own
 * workflow task (no activity task to dispatch, no hold workflow task to wait for). A failure is
 * not retried for long: the incident then claims through requestHold.
 */
export const holdStart = proxyLocalActivities<Pick<HoldActivities, 'claimFreeHolds'>>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '500 milliseconds', backoffCoefficient: 2, maximumAttempts: 3 },
});
/**
 * The answered claim waits for the hold's workflow task, which queues behind every incident's on a
 * busy worker: a storm can take it past QUICK's deadline, and a retry would only queue again.
 */
export const holdClaim = proxyActivities<Pick<HoldActivities, 'requestHold'>>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '10 seconds', maximumAttempts: 10 },
});
// A page sent is a page to resolve: its outcome is kept even when the incident is cancelled meanwhile.
export const paging = settledEvenIfCancelled(proxyActivities<PagingActivities>(REMOTE_CALL));
export const email = settledEvenIfCancelled(proxyActivities<EmailActivities>(REMOTE_CALL));

/**
 * waitForRollout heartbeats while it polls, so a lost worker is noticed in 30 s rather than at
 * the rollout deadline; the activity's own deadline is the runbook's, plus room to report it.
 */
export function rolloutWatcher(timeoutSeconds: number): Pick<KubernetesActivities, 'waitForRollout'> {
  return proxyActivities<KubernetesActivities>({
    startToCloseTimeout: `${timeoutSeconds + 60} seconds`,
    heartbeatTimeout: '30 seconds',
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '10 seconds', maximumAttempts: 3 },
  });
}

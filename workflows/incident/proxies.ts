/**
 * Activity proxies, one per timeout/retry profile. Activities are referenced by type only: the
 * implementations (and their clients) never enter the workflow bundle.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { KubernetesActivities } from '../../activities/kubernetes';
import type { SlackActivities } from '../../activities/slack';
import type { DiagnosticsActivities } from '../../activities/diagnostics';
import type { PagingActivities } from '../../activities/paging';

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

/** Mutations of the cluster: idempotent through the incident marker, so retries are safe. */
const LONG_REMEDIATION = {
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 10 },
} as const;

export const kubeRead = proxyActivities<KubernetesActivities>(QUICK);
export const kubeChange = proxyActivities<KubernetesActivities>(LONG_REMEDIATION);
export const diagnostics = proxyActivities<DiagnosticsActivities>(QUICK);
export const slack = proxyActivities<SlackActivities>(REMOTE_CALL);
export const paging = proxyActivities<PagingActivities>(REMOTE_CALL);

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

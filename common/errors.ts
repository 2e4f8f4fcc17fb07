/**
 * The one catalogue of failure types. Activities throw `ApplicationFailure.nonRetryable(msg, TYPE)`
 * for permanent errors (retrying cannot help) and plain errors for transient ones; workflows fail
 * only with `ApplicationFailure` carrying one of these types, so the CLI, Slack and postmortems
 * can explain a failure without parsing messages.
 */
export const ErrorType = {
  /** Input rejected by a runbook schema or a message validator. Permanent. */
  INVALID_INPUT: 'INVALID_INPUT',
  /** The Deployment / Pod / ReplicaSet named does not exist. Permanent. */
  TARGET_NOT_FOUND: 'TARGET_NOT_FOUND',
  /** RBAC refused a verb on a resource. Permanent until someone changes RBAC. */
  FORBIDDEN: 'FORBIDDEN',
  /** A rollout reported ProgressDeadlineExceeded. Permanent for this rollout. */
  ROLLOUT_DEADLINE_EXCEEDED: 'ROLLOUT_DEADLINE_EXCEEDED',
  /** A rollout did not finish within the runbook's own deadline. */
  ROLLOUT_TIMED_OUT: 'ROLLOUT_TIMED_OUT',
  /** The revision asked for is not in the rollout history. Permanent. */
  REVISION_NOT_FOUND: 'REVISION_NOT_FOUND',
  /** A human gate reached its hard deadline without a decision. Never an approval. */
  APPROVAL_TIMED_OUT: 'APPROVAL_TIMED_OUT',
  /** A human gate was rejected. */
  APPROVAL_REJECTED: 'APPROVAL_REJECTED',
  /** A decision or acknowledgement from someone not allowed to make it. */
  UNAUTHORIZED: 'UNAUTHORIZED',
  /** The same person cannot trigger and approve where four-eyes applies. */
  SELF_APPROVAL: 'SELF_APPROVAL',
  /** The same person approving a quorum gate twice (through any of their accounts). */
  ALREADY_APPROVED: 'ALREADY_APPROVED',
  /** The gate was already decided, or is not open. */
  GATE_CLOSED: 'GATE_CLOSED',
  /** The gate named does not exist in this incident. */
  UNKNOWN_GATE: 'UNKNOWN_GATE',
  /** The incident is already closed (resolved, failed or cancelled). */
  INCIDENT_CLOSED: 'INCIDENT_CLOSED',
  /** A health check still failed after remediation. */
  UNHEALTHY_AFTER_REMEDIATION: 'UNHEALTHY_AFTER_REMEDIATION',
  /** A SaaS (Slack, PagerDuty) refused the request permanently (bad token, bad payload). */
  PROVIDER_REJECTED: 'PROVIDER_REJECTED',
  /** A SaaS asked us to slow down; retried by Temporal after the delay it gave. */
  RATE_LIMITED: 'RATE_LIMITED',
  /** Configuration is missing or wrong (e.g. no routing key for a paging tier). Permanent. */
  NOT_CONFIGURED: 'NOT_CONFIGURED',
  /** A command run in a pod (kubectl exec) did not finish within its deadline. Not retried: it would hang again. */
  EXEC_TIMED_OUT: 'EXEC_TIMED_OUT',
  /** Evidence could not be taken or shared as it is (the in-pod command failed, the stored file changed). Permanent. */
  EVIDENCE_UNAVAILABLE: 'EVIDENCE_UNAVAILABLE',
} as const;

export type ErrorType = (typeof ErrorType)[keyof typeof ErrorType];

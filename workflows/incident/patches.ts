/**
 * `patched()` ids: where workflow code changed its commands, incidents begun before the change
 * replay the old path (test/fixtures/histories) and new ones take the new path. Never rename one;
 * remove one (with `deprecatePatch` first) only once no incident that began before it is open.
 */

/** Restoration reads a setting's live value with `readDeploymentSettings` (QUICK), not a dry-run patch. */
export const RESTORE_READS_SETTINGS = 'restore-reads-settings';

/** Runbooks read a setting before changing it with `readDeploymentSettings` (QUICK), not a dry-run patch. */
export const RUNBOOK_READS_SETTINGS = 'runbook-reads-settings';

/**
 * An alert notification folds into bounded state and becomes one rate-limited thread summary (and a
 * card refresh), not a thread post per changed alert.
 */
export const ALERTS_SUMMARISED = 'alerts-summarised';

/** After acknowledgement, the response plan's deadlines (response-plan.ts) start timers and reminders. */
export const RESPONSE_PLAN = 'response-plan';

/** A required gate past its deadline stays open and escalates on the re-page interval instead of failing the incident. */
export const REQUIRED_GATE_STAYS_OPEN = 'required-gate-stays-open';

/** Incidents claim the deployment hold (one remediation per deployment) before their runbook's steps. */
export const DEPLOYMENT_HOLD = 'deployment-hold';

/** OOM triage waits for the rollout and watches a verification window (no new OOM kill) before saying mitigated. */
export const OOM_VERIFICATION_WINDOW = 'oom-verification-window';

/** Avalanche mitigation waits for the rollouts and judges error rate and p99 after a verification window. */
export const AVALANCHE_VERIFICATION_WINDOW = 'avalanche-verification-window';

/** P0 response's diagnostics add the service's p99 and error rate (Prometheus) and crashed containers' previous logs. */
export const P0_SERVICE_DIAGNOSTICS = 'p0-service-diagnostics';

/**
 * OOM triage streams its evidence out of the pod (heap profile through the exec's stdout, previous
 * logs) into the evidence store and the Slack thread before any change, instead of writing the
 * heap profile to /tmp in the pod that the limit change replaces.
 */
export const EVIDENCE_LEAVES_POD = 'evidence-leaves-pod';

/**
 * Incidents claim the deployment hold with `requestHold` (an update the hold answers at once) and
 * go on with the answer, instead of `claimHold` and waiting for the hold's notice signal.
 */
export const HOLD_ANSWERED_AT_ONCE = 'hold-answered-at-once';

/**
 * The courier posts a gate's approval request even when the gate was decided before the courier
 * reached it (the request then shows the outcome, without buttons), instead of skipping it: a
 * decision taken while the engine restarted left the thread without its "Approval needed" post.
 */
export const APPROVAL_REQUEST_ALWAYS_POSTED = 'approval-request-always-posted';

/**
 * Trigger → first remediation carries no work the runbook does not need before acting: the hold is
 * claimed by a local activity (one start of the hold naming this incident as its holder; the
 * answered claim only when the hold already runs) beside the read-only diagnostics and waited for
 * only before the first change or gate; the Slack courier starts once the runbook acts (or after
 * COURIER_GRACE_MS); search attributes the start already carried are not upserted again; P0's
 * previous logs follow the pod listing without waiting for the other diagnostics.
 */
export const FIRST_ACTION_FIRST = 'first-action-first';

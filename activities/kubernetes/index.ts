/**
 * Kubernetes activities: diagnostics and remediations that behave exactly like kubectl.
 *
 * Remediations send the request kubectl sends (restart: strategic-merge patch of the pod-template
 * annotation `kubectl.kubernetes.io/restartedAt`; undo: JSON patch of `/spec/template` and the
 * annotations from the ReplicaSet of the revision; set env / set resources: strategic-merge patch;
 * scale: merge patch of the scale subresource), so `kubectl rollout history` and the pod template
 * end up the same as if an engineer had typed the command.
 *
 * Idempotency under retry: every mutation records a marker annotation on the Deployment,
 * `firebreak.dev/<hash(incidentId)>-<action>`, written in the same request as the change (scale:
 * just before and after, since the scale subresource cannot carry annotations). A retried activity
 * finds its marker and reports what the first attempt did — including the values it replaced —
 * instead of applying the change again. Patches carry the resourceVersion they were computed from,
 * so two racing attempts cannot both apply: the loser gets a 409 and retries into the marker.
 *
 * Errors: not found → TARGET_NOT_FOUND, RBAC refusal → FORBIDDEN (naming the verb and resource the
 * role lacks), rejected input → INVALID_INPUT, all non-retryable; conflicts, throttling, 5xx and
 * network failures are plain errors that Temporal retries.
 *
 * Files: api.ts (clients, the Deployment read/patch, a raw GET), errors.ts (failures onto the error
 * catalogue), kubectl.ts (kubectl's logic, pure), and one file per group of activities: reads.ts,
 * rollout.ts, settings.ts, exec.ts.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { createKubeApi } from './api';
import { createExecActivities } from './exec';
import { createReadActivities } from './reads';
import { createRolloutActivities } from './rollout';
import { createSettingsActivities } from './settings';

export * from './types';
export { ConflictError, toActivityError } from './errors';
export {
  MARKER_PREFIX,
  RESTARTED_AT_ANNOTATION,
  REVISION_ANNOTATION,
  deploymentRolloutStatus,
  execExitCode,
  markerKey,
} from './kubectl';

export function createKubernetesActivities(kubeConfig: KubeConfig) {
  const api = createKubeApi(kubeConfig);
  return {
    ...createReadActivities(api),
    ...createRolloutActivities(api),
    ...createSettingsActivities(api),
    ...createExecActivities(api),
  };
}

export type KubernetesActivities = ReturnType<typeof createKubernetesActivities>;

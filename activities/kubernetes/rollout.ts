/**
 * Rollouts as kubectl does them: `rollout restart` (the pod-template annotation
 * kubectl.kubernetes.io/restartedAt, strategic-merge patch), `rollout history` (the ReplicaSets'
 * revisions), `rollout undo` (JSON patch of /spec/template and the annotations from the revision's
 * ReplicaSet, minus pod-template-hash) and `rollout status` (kubectl's verdict, polled).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { PatchStrategy } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { ErrorType } from '../../common/errors';
import type { Target } from '../../common/types';
import type { KubeApi } from './api';
import { activityContext, retryOnConflict } from './errors';
import {
  MARKER_PREFIX,
  RESTARTED_AT_ANNOTATION,
  REVISION_ANNOTATION,
  clamp,
  deploymentRolloutStatus,
  markerKey,
  readMarker,
  revisionOf,
  rfc3339Now,
  semanticEqual,
  validateIncidentId,
  withoutHashLabel,
  type RawDeployment,
  type RawReplicaSet,
} from './kubectl';
import type { MutationOptions, RevisionInfo, RolloutRestartResult, RolloutStatus, RolloutUndoResult } from './types';

const CHANGE_CAUSE_ANNOTATION = 'kubernetes.io/change-cause';
/** kubectl's rollback keeps these from the Deployment instead of copying them from the ReplicaSet. */
const ANNOTATIONS_KEPT_ON_UNDO = new Set([
  'kubectl.kubernetes.io/last-applied-configuration',
  REVISION_ANNOTATION,
  'deployment.kubernetes.io/revision-history',
  'deployment.kubernetes.io/desired-replicas',
  'deployment.kubernetes.io/max-replicas',
  'deprecated.deployment.rollback.to',
]);
const ROLLOUT_POLL_MS = 1000;
const MAX_ROLLOUT_TIMEOUT_SECONDS = 6 * 60 * 60;

export function createRolloutActivities({
  readDeployment,
  patchDeployment,
  getRaw,
  ownedReplicaSets,
  deploymentAccess,
}: KubeApi) {
  return {
    /**
     * `kubectl rollout restart`: sets the pod-template annotation kubectl.kubernetes.io/restartedAt
     * (strategic-merge patch), which rolls every pod. Idempotency key: incidentId (one restart per
     * incident; a retry returns the first restart's time). Server-side dry run supported.
     * LONG_REMEDIATION profile (returns once the API accepted it; waitForRollout waits for the pods).
     */
    async rolloutRestart(input: Target & MutationOptions): Promise<RolloutRestartResult> {
      return retryOnConflict(async () => {
        validateIncidentId(input.incidentId);
        const deployment = await readDeployment(input);
        const key = markerKey(input.incidentId, 'restart');
        const marker = readMarker<{ restartedAt: string }>(deployment, key);
        if (marker) {
          return {
            restartedAt: marker.restartedAt,
            alreadyApplied: true,
            generation: deployment.metadata?.generation ?? 0,
          };
        }
        if (deployment.spec?.paused) {
          throw ApplicationFailure.nonRetryable(
            `can't restart paused deployment ${input.namespace}/${input.deployment} (run rollout resume first)`,
            ErrorType.INVALID_INPUT,
          );
        }
        const restartedAt = rfc3339Now();
        const previousRestartedAt = deployment.spec?.template.metadata?.annotations?.[RESTARTED_AT_ANNOTATION];
        const patched = await patchDeployment(
          input,
          {
            metadata: {
              resourceVersion: deployment.metadata?.resourceVersion,
              annotations: { [key]: JSON.stringify({ restartedAt }) },
            },
            spec: { template: { metadata: { annotations: { [RESTARTED_AT_ANNOTATION]: restartedAt } } } },
          },
          PatchStrategy.StrategicMergePatch,
          input.dryRun,
        );
        return {
          restartedAt,
          ...(previousRestartedAt ? { previousRestartedAt } : {}),
          alreadyApplied: false,
          generation: patched.metadata?.generation ?? 0,
        };
      });
    },

    /**
     * `kubectl rollout history`: the Deployment's revisions from the ReplicaSets it controls,
     * oldest first. Read-only; no idempotency key; QUICK profile.
     */
    async rolloutHistory(target: Target): Promise<RevisionInfo[]> {
      const deployment = await getRaw<RawDeployment>(
        `/apis/apps/v1/namespaces/${encodeURIComponent(target.namespace)}/deployments/${encodeURIComponent(target.deployment)}`,
        deploymentAccess(target, 'get'),
      );
      const replicaSets = await ownedReplicaSets(deployment, target);
      const revisions: RevisionInfo[] = [];
      for (const rs of replicaSets) {
        const revision = revisionOf(rs);
        if (revision === undefined) continue;
        const changeCause = rs.metadata.annotations?.[CHANGE_CAUSE_ANNOTATION];
        revisions.push({
          revision,
          replicaSet: rs.metadata.name ?? '',
          ...(changeCause !== undefined ? { changeCause } : {}),
          images: (rs.spec.template.spec?.containers ?? []).map((c) => c.image ?? ''),
          createdAt: rs.metadata.creationTimestamp,
        });
      }
      return revisions.sort((a, b) => a.revision - b.revision);
    },

    /**
     * `kubectl rollout undo [--to-revision=N]`: JSON patch replacing /spec/template with the
     * revision's ReplicaSet template (minus pod-template-hash) and the annotations kubectl computes.
     * Default: the previous revision. Idempotency key: incidentId + requested revision (a retry
     * reports the first undo instead of undoing again). Server-side dry run supported.
     * LONG_REMEDIATION profile.
     */
    async rolloutUndo(input: Target & MutationOptions & { toRevision?: number }): Promise<RolloutUndoResult> {
      return retryOnConflict(async () => {
        validateIncidentId(input.incidentId);
        const wanted = input.toRevision ?? 0;
        if (!Number.isInteger(wanted) || wanted < 0) {
          throw ApplicationFailure.nonRetryable(
            `unable to find specified revision ${wanted} in history`,
            ErrorType.REVISION_NOT_FOUND,
          );
        }
        const deployment = await getRaw<RawDeployment>(
          `/apis/apps/v1/namespaces/${encodeURIComponent(input.namespace)}/deployments/${encodeURIComponent(input.deployment)}`,
          deploymentAccess(input, 'get'),
        );
        const key = markerKey(input.incidentId, `undo-${wanted === 0 ? 'previous' : wanted}`);
        const marker = readMarker<{ fromRevision: number; toRevision: number }>(deployment, key);
        if (marker) return { ...marker, alreadyApplied: true };

        const replicaSets = await ownedReplicaSets(deployment, input);
        let target: RawReplicaSet | undefined;
        let latest: { revision: number; rs?: RawReplicaSet } = { revision: -1 };
        let previous: { revision: number; rs?: RawReplicaSet } = { revision: -1 };
        for (const rs of replicaSets) {
          const revision = revisionOf(rs);
          if (revision === undefined) continue;
          if (wanted === 0) {
            if (latest.revision < revision) {
              previous = latest;
              latest = { revision, rs };
            } else if (previous.revision < revision) {
              previous = { revision, rs };
            }
          } else if (revision === wanted) {
            target = rs;
          }
        }
        if (wanted === 0) target = previous.rs;
        if (!target) {
          throw ApplicationFailure.nonRetryable(
            wanted > 0
              ? `unable to find specified revision ${wanted} in history of deployment ${input.namespace}/${input.deployment}`
              : `no rollout history found for deployment ${input.namespace}/${input.deployment}`,
            ErrorType.REVISION_NOT_FOUND,
          );
        }
        const toRevision = revisionOf(target) ?? wanted;
        const fromRevision = revisionOf(deployment) ?? 0;
        if (deployment.spec.paused) {
          throw ApplicationFailure.nonRetryable(
            `you cannot rollback a paused deployment ${input.namespace}/${input.deployment}; resume it first`,
            ErrorType.INVALID_INPUT,
          );
        }
        if (semanticEqual(withoutHashLabel(target.spec.template), withoutHashLabel(deployment.spec.template))) {
          return {
            fromRevision,
            toRevision,
            alreadyApplied: true,
            skipped: `current template already matches revision ${toRevision}`,
          };
        }
        const current = deployment.metadata.annotations ?? {};
        const annotations: Record<string, string> = {};
        for (const name of ANNOTATIONS_KEPT_ON_UNDO) if (current[name] !== undefined) annotations[name] = current[name];
        for (const [name, value] of Object.entries(target.metadata.annotations ?? {})) {
          if (!ANNOTATIONS_KEPT_ON_UNDO.has(name)) annotations[name] = value;
        }
        // kubectl would drop our markers with the rest of the Deployment's own annotations: carry
        // them over, or a retried remediation of this incident would apply twice.
        for (const [name, value] of Object.entries(current))
          if (name.startsWith(MARKER_PREFIX)) annotations[name] = value;
        annotations[key] = JSON.stringify({ fromRevision, toRevision });
        await patchDeployment(
          input,
          [
            { op: 'replace', path: '/spec/template', value: withoutHashLabel(target.spec.template) },
            { op: 'replace', path: '/metadata/annotations', value: annotations },
            // Optimistic concurrency: a Deployment changed since we read it answers 409 and we retry.
            { op: 'replace', path: '/metadata/resourceVersion', value: deployment.metadata.resourceVersion },
          ],
          PatchStrategy.JsonPatch,
          input.dryRun,
        );
        return { fromRevision, toRevision, alreadyApplied: false };
      });
    },

    /**
     * `kubectl rollout status --timeout`: polls kubectl's observedGeneration / updatedReplicas /
     * availableReplicas verdict every second, heartbeating it, until complete. Fails non-retryably
     * with ROLLOUT_DEADLINE_EXCEEDED when the Deployment reports ProgressDeadlineExceeded and with
     * ROLLOUT_TIMED_OUT at its own deadline (kept across retries in the heartbeat details).
     * Read-only; no idempotency key; rolloutWatcher profile (the runbook's deadline, 30 s
     * heartbeat timeout).
     */
    async waitForRollout(input: Target & { timeoutSeconds: number }): Promise<RolloutStatus> {
      const context = activityContext();
      const timeoutMs = clamp(input.timeoutSeconds, 300, MAX_ROLLOUT_TIMEOUT_SECONDS) * 1000;
      const recorded: unknown = context?.info.heartbeatDetails;
      const deadline =
        recorded && typeof recorded === 'object' && 'deadline' in recorded && typeof recorded.deadline === 'number'
          ? recorded.deadline
          : Date.now() + timeoutMs;
      for (;;) {
        const { deadlineExceeded, ...status } = deploymentRolloutStatus(await readDeployment(input));
        context?.heartbeat({ deadline, status });
        if (deadlineExceeded) {
          throw ApplicationFailure.create({
            message: status.message,
            type: ErrorType.ROLLOUT_DEADLINE_EXCEEDED,
            nonRetryable: true,
            details: [status],
          });
        }
        if (status.complete) return status;
        if (Date.now() + ROLLOUT_POLL_MS > deadline) {
          throw ApplicationFailure.create({
            message: `timed out waiting for deployment ${input.namespace}/${input.deployment} rollout: ${status.message}`,
            type: ErrorType.ROLLOUT_TIMED_OUT,
            nonRetryable: true,
            details: [status],
          });
        }
        // Context.sleep ends early, with a CancelledFailure, when the activity is cancelled.
        if (context) await context.sleep(ROLLOUT_POLL_MS);
        else await sleep(ROLLOUT_POLL_MS);
      }
    },
  };
}

/**
 * Settings as kubectl changes them: `kubectl scale` (merge patch of the scale subresource),
 * `kubectl set env` and `kubectl set resources` (strategic-merge patches of one container). Each
 * returns the values it replaced, which become temporary mitigations (domain/mitigations.ts).
 */
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { ErrorType } from '../../common/errors';
import { fnv1a64 } from '../../common/ids';
import type { Target } from '../../common/types';
import { FIELD_MANAGER, type KubeApi } from './api';
import { call, retryOnConflict } from './errors';
import { containerPatch, markerKey, readMarker, templateContainer, validateIncidentId } from './kubectl';
import type { EnvChangeResult, MutationOptions, ResourceChangeResult, ScaleResult } from './types';

export function createSettingsActivities({
  apps,
  dryRunOf,
  deploymentAccess,
  readDeployment,
  patchDeployment,
}: KubeApi) {
  return {
    /**
     * `kubectl scale --replicas`: merge patch of the scale subresource. Idempotency key: incidentId
     * + replica count; the marker (with the replica count found first) is written before the scale
     * and closed after it, so a retry re-applies an unfinished scale but never reports its own
     * value as the previous one. Server-side dry run supported. LONG_REMEDIATION profile.
     */
    async scaleDeployment(input: Target & MutationOptions & { replicas: number }): Promise<ScaleResult> {
      return retryOnConflict(async () => {
        validateIncidentId(input.incidentId);
        if (!Number.isInteger(input.replicas) || input.replicas < 0) {
          throw ApplicationFailure.nonRetryable(
            `replicas must be a whole number ≥ 0, got ${input.replicas}`,
            ErrorType.INVALID_INPUT,
          );
        }
        const deployment = await readDeployment(input);
        const key = markerKey(input.incidentId, `scale-${input.replicas}`);
        const marker = readMarker<{ previousReplicas: number; replicas: number; done: boolean }>(deployment, key);
        const scaleAccess = deploymentAccess(input, 'patch', 'deployments.apps/scale');
        const patchScale = (dryRun?: boolean) =>
          call(scaleAccess, () =>
            apps.patchNamespacedDeploymentScale(
              {
                name: input.deployment,
                namespace: input.namespace,
                body: { spec: { replicas: input.replicas } },
                dryRun: dryRunOf(dryRun),
                fieldManager: FIELD_MANAGER,
              },
              setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
            ),
          );
        const closeMarker = (previousReplicas: number) =>
          patchDeployment(
            input,
            {
              metadata: {
                annotations: { [key]: JSON.stringify({ previousReplicas, replicas: input.replicas, done: true }) },
              },
            },
            PatchStrategy.StrategicMergePatch,
          );
        if (marker?.done)
          return { previousReplicas: marker.previousReplicas, replicas: input.replicas, alreadyApplied: true };
        if (marker && !input.dryRun) {
          await patchScale();
          await closeMarker(marker.previousReplicas);
          return { previousReplicas: marker.previousReplicas, replicas: input.replicas, alreadyApplied: true };
        }

        const scale = await call(deploymentAccess(input, 'get', 'deployments.apps/scale'), () =>
          apps.readNamespacedDeploymentScale({ name: input.deployment, namespace: input.namespace }),
        );
        const previousReplicas = scale.spec?.replicas ?? 0;
        if (input.dryRun) {
          const result = await patchScale(true);
          return { previousReplicas, replicas: result.spec?.replicas ?? input.replicas, alreadyApplied: false };
        }
        if (previousReplicas === input.replicas) {
          return { previousReplicas, replicas: input.replicas, alreadyApplied: false };
        }
        await patchDeployment(
          input,
          {
            metadata: {
              resourceVersion: deployment.metadata?.resourceVersion,
              annotations: { [key]: JSON.stringify({ previousReplicas, replicas: input.replicas, done: false }) },
            },
          },
          PatchStrategy.StrategicMergePatch,
        );
        const result = await patchScale();
        await closeMarker(previousReplicas);
        return { previousReplicas, replicas: result.spec?.replicas ?? input.replicas, alreadyApplied: false };
      });
    },

    /**
     * `kubectl set env`: strategic-merge patch of one container's env (`null` removes a variable;
     * a new one is appended, an existing one changed in place). Returns the values it replaced.
     * Idempotency key: incidentId + container + the requested values (a retry returns the first
     * attempt's previous values). Refuses to overwrite a variable set from a Secret/ConfigMap
     * reference, which it could not restore. Server-side dry run supported. LONG_REMEDIATION profile.
     */
    async setDeploymentEnv(
      input: Target & MutationOptions & { container?: string; env: Record<string, string | null> },
    ): Promise<EnvChangeResult> {
      return retryOnConflict(async () => {
        validateIncidentId(input.incidentId);
        // Given order, as `kubectl set env A=1 B=2` appends new variables in argument order.
        const names = Object.keys(input.env);
        if (names.length === 0)
          throw ApplicationFailure.nonRetryable('no environment variables given', ErrorType.INVALID_INPUT);
        const deployment = await readDeployment(input);
        const container = templateContainer(deployment, input.container);
        const applied: Record<string, string | null> = Object.fromEntries(names.map((n) => [n, input.env[n] ?? null]));
        const requested = [...names].sort().map((n) => [n, applied[n]]);
        const key = markerKey(input.incidentId, `env-${fnv1a64(JSON.stringify([container.name, requested]))}`);
        const marker = readMarker<{ previous: Record<string, string | null> }>(deployment, key);
        if (marker) return { container: container.name, previous: marker.previous, applied, alreadyApplied: true };

        const env = container.env ?? [];
        const previous: Record<string, string | null> = {};
        for (const name of names) {
          const existing = env.find((e) => e.name === name);
          if (existing?.valueFrom) {
            throw ApplicationFailure.nonRetryable(
              `${name} in container ${container.name} is set from a reference (valueFrom); it would not be restorable`,
              ErrorType.INVALID_INPUT,
            );
          }
          previous[name] = existing ? (existing.value ?? '') : null;
        }
        if (names.every((n) => previous[n] === applied[n])) {
          return { container: container.name, previous, applied, alreadyApplied: false };
        }
        // The list kubectl ends with: changed variables in place, new ones appended, removed ones gone.
        const order = env.map((e) => e.name).filter((n) => !(n in applied) || applied[n] !== null);
        for (const name of names) if (applied[name] !== null && !order.includes(name)) order.push(name);
        const changes: Record<string, unknown>[] = [];
        for (const name of names) {
          if (previous[name] === applied[name]) continue;
          changes.push(applied[name] === null ? { $patch: 'delete', name } : { name, value: applied[name] });
        }
        const patch = containerPatch(
          deployment,
          { [key]: JSON.stringify({ previous }) },
          { name: container.name, '$setElementOrder/env': order.map((name) => ({ name })), env: changes },
        );
        await patchDeployment(input, patch, PatchStrategy.StrategicMergePatch, input.dryRun);
        return { container: container.name, previous, applied, alreadyApplied: false };
      });
    },

    /**
     * `kubectl set resources`: strategic-merge patch of one container's limits/requests (`null`
     * removes an entry). Returns the values it replaced, as the API server stored them.
     * Idempotency key: incidentId + container + the requested values. Server-side dry run
     * supported. LONG_REMEDIATION profile.
     */
    async setContainerResources(
      input: Target &
        MutationOptions & {
          container?: string;
          limits?: Record<string, string | null>;
          requests?: Record<string, string | null>;
        },
    ): Promise<ResourceChangeResult> {
      return retryOnConflict(async () => {
        validateIncidentId(input.incidentId);
        const sorted = (values?: Record<string, string | null>) =>
          Object.fromEntries(
            Object.keys(values ?? {})
              .sort()
              .map((k) => [k, values?.[k] ?? null]),
          );
        const wanted = { limits: sorted(input.limits), requests: sorted(input.requests) };
        if (Object.keys(wanted.limits).length + Object.keys(wanted.requests).length === 0) {
          throw ApplicationFailure.nonRetryable('no limits or requests given', ErrorType.INVALID_INPUT);
        }
        const deployment = await readDeployment(input);
        const container = templateContainer(deployment, input.container);
        const key = markerKey(input.incidentId, `resources-${fnv1a64(JSON.stringify([container.name, wanted]))}`);
        const marker = readMarker<Pick<ResourceChangeResult, 'previous' | 'applied'>>(deployment, key);
        if (marker) return { container: container.name, ...marker, alreadyApplied: true };

        const current = (field: 'limits' | 'requests') => {
          const found: Record<string, string | null> = {};
          for (const name of Object.keys(wanted[field])) found[name] = container.resources?.[field]?.[name] ?? null;
          return found;
        };
        const previous = { limits: current('limits'), requests: current('requests') };
        const resources: Record<string, Record<string, string | null>> = {};
        for (const field of ['limits', 'requests'] as const) {
          for (const [name, value] of Object.entries(wanted[field])) {
            if (previous[field][name] !== value) (resources[field] ??= {})[name] = value;
          }
        }
        if (Object.keys(resources).length === 0) {
          return { container: container.name, previous, applied: wanted, alreadyApplied: false };
        }
        const patched = await patchDeployment(
          input,
          containerPatch(
            deployment,
            { [key]: JSON.stringify({ previous, applied: wanted }) },
            { name: container.name, resources },
          ),
          PatchStrategy.StrategicMergePatch,
          input.dryRun,
        );
        // Report quantities the way the API server canonicalised them (512Mi, not 536870912).
        const stored = patched.spec?.template.spec?.containers.find((c) => c.name === container.name)?.resources;
        const applied = {
          limits: Object.fromEntries(Object.keys(wanted.limits).map((n) => [n, stored?.limits?.[n] ?? null])),
          requests: Object.fromEntries(Object.keys(wanted.requests).map((n) => [n, stored?.requests?.[n] ?? null])),
        };
        if (!input.dryRun && JSON.stringify(applied) !== JSON.stringify(wanted)) {
          await patchDeployment(
            input,
            { metadata: { annotations: { [key]: JSON.stringify({ previous, applied }) } } },
            PatchStrategy.StrategicMergePatch,
          );
        }
        return { container: container.name, previous, applied, alreadyApplied: false };
      });
    },
  };
}

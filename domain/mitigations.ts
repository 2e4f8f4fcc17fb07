/**
 * Temporary mitigations — the one place a mitigation kind is defined: its shape, its ledger key,
 * how it reads to a human, how a remediation's result becomes ledger entries, and how its live
 * value is read back before it is restored. The kernel's ledger, the runbooks, the postmortem and
 * Slack all use these; the Kubernetes activities return the result shapes declared here.
 *
 * Adding a kind: a variant of MitigationChange below; the compiler then points at every switch
 * that must learn it (here, and the restore in workflows/incident/ledger.ts).
 */
import { ApplicationFailure } from '@temporalio/common';
import { ErrorType } from '../common/errors';
import { formatTarget } from '../common/ids';
import type { Target } from '../common/types';

/** A temporary change a remediation made, with the value it replaced (null = was unset). */
export type MitigationChange =
  | { kind: 'env'; container: string; name: string; previous: string | null; applied: string | null }
  | { kind: 'replicas'; previous: number; applied: number }
  | {
      kind: 'resources';
      container: string;
      field: 'limits' | 'requests';
      resource: 'memory' | 'cpu';
      previous: string | null;
      applied: string | null;
    };

export type MitigationKind = MitigationChange['kind'];

type WithoutValues<T> = T extends unknown ? Omit<T, 'previous' | 'applied'> : never;
/** The setting a change touches, without its values. */
export type MitigationSetting = WithoutValues<MitigationChange>;

export interface MitigationRecord {
  /** Stable key within the incident (mitigationKey), e.g. `shop/checkout/env/app/OTEL_TRACES_SAMPLER_ARG`. */
  key: string;
  target: Target;
  change: MitigationChange;
  appliedAt: string;
  restoredAt?: string;
  /** Set when a restore was attempted and skipped because someone changed the value since. */
  restoreNote?: string;
}

// ---- what the remediations report (the activities' side of the contract) -----------------------

/** `setDeploymentEnv`: values before the change; null = the variable was not set. */
export interface EnvChangeResult {
  container: string;
  previous: Record<string, string | null>;
  applied: Record<string, string | null>;
  alreadyApplied: boolean;
}

/** `scaleDeployment`. */
export interface ScaleResult {
  previousReplicas: number;
  replicas: number;
  alreadyApplied: boolean;
}

/** `setContainerResources`: quantities as the API server stored them. */
export interface ResourceChangeResult {
  container: string;
  previous: { limits: Record<string, string | null>; requests: Record<string, string | null> };
  applied: { limits: Record<string, string | null>; requests: Record<string, string | null> };
  alreadyApplied: boolean;
}

/** `readDeploymentSettings`: the live values a mitigation is compared with before it is restored. */
export interface DeploymentSettings {
  replicas: number;
  /** Names of the pod template's containers. */
  containers: string[];
  /** The container asked for, or kubectl's default one; absent when the template leaves it ambiguous. */
  container?: ContainerSettings;
}

export interface ContainerSettings {
  name: string;
  /** Literal values (an empty `value` is ''); variables set from a reference are in `envFromReference`. */
  env: Record<string, string>;
  /** Variables set from a Secret/ConfigMap/field reference (valueFrom): not a value we could restore. */
  envFromReference: string[];
  limits: Record<string, string>;
  requests: Record<string, string>;
}

// ---- the ledger --------------------------------------------------------------------------------

/** The ledger key: one entry per setting, so a second change of the same setting keeps the first previous value. */
export function mitigationKey(target: Target, setting: MitigationSetting): string {
  const base = formatTarget(target);
  switch (setting.kind) {
    case 'env':
      return `${base}/env/${setting.container}/${setting.name}`;
    case 'replicas':
      return `${base}/replicas`;
    case 'resources':
      return `${base}/${setting.field}/${setting.container}/${setting.resource}`;
  }
}

export function describeChange(change: MitigationChange): string {
  const from = String(change.previous ?? 'unset');
  const to = String(change.applied ?? 'unset');
  switch (change.kind) {
    case 'env':
      return `env ${change.name} ${from} → ${to} (container ${change.container})`;
    case 'replicas':
      return `replicas ${from} → ${to}`;
    case 'resources':
      return `${change.field}.${change.resource} ${from} → ${to} (container ${change.container})`;
  }
}

/** One change per variable an env patch touched. */
export function envChanges(result: Pick<EnvChangeResult, 'container' | 'previous' | 'applied'>): MitigationChange[] {
  return Object.keys(result.applied).map((name) => ({
    kind: 'env',
    container: result.container,
    name,
    previous: result.previous[name] ?? null,
    applied: result.applied[name] ?? null,
  }));
}

export function replicaChanges(result: Pick<ScaleResult, 'previousReplicas' | 'replicas'>): MitigationChange[] {
  return [{ kind: 'replicas', previous: result.previousReplicas, applied: result.replicas }];
}

/** One change per limit or request a resources patch set, with the value the API server stored. */
export function resourceChanges(
  result: Pick<ResourceChangeResult, 'container' | 'previous' | 'applied'>,
): MitigationChange[] {
  const changes: MitigationChange[] = [];
  for (const field of ['limits', 'requests'] as const) {
    for (const resource of ['memory', 'cpu'] as const) {
      if (result.applied[field]?.[resource] === undefined) continue;
      changes.push({
        kind: 'resources',
        container: result.container,
        field,
        resource,
        previous: result.previous[field]?.[resource] ?? null,
        applied: result.applied[field]?.[resource] ?? null,
      });
    }
  }
  return changes;
}

// ---- reading a setting back --------------------------------------------------------------------

/** The container a setting read applies to; refused, as kubectl refuses, when the template leaves it ambiguous. */
export function containerOf(settings: DeploymentSettings): ContainerSettings {
  if (settings.container) return settings.container;
  throw ApplicationFailure.nonRetryable(
    `the pod template has ${settings.containers.length} containers (${settings.containers.join(', ')}); name one`,
    ErrorType.INVALID_INPUT,
  );
}

/** The live value of the setting a mitigation changed (null = unset). */
export function liveValue(setting: MitigationSetting, settings: DeploymentSettings): string | number | null {
  if (setting.kind === 'replicas') return settings.replicas;
  const container = containerOf(settings);
  if (setting.kind === 'resources') return container[setting.field][setting.resource] ?? null;
  if (container.envFromReference.includes(setting.name)) {
    throw ApplicationFailure.nonRetryable(
      `${setting.name} in container ${container.name} is set from a reference (valueFrom); it would not be restorable`,
      ErrorType.INVALID_INPUT,
    );
  }
  return container.env[setting.name] ?? null;
}

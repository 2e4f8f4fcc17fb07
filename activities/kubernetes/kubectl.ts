/**
 * kubectl's own logic, as pure functions over API objects: markers, selectors, pod and event
 * summaries, rollout status, template equality for undo, the default container, exec exit codes.
 * Nothing here talks to the API server, so tests check it against kubectl's output directly.
 */
import type { CoreV1Event, V1Container, V1Deployment, V1LabelSelector, V1Pod, V1Status } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { ErrorType } from '../../common/errors';
import { fnv1a64 } from '../../common/ids';
import type { ContainerSummary, EventSummary, PodSummary, RolloutStatus } from './types';

/** Annotation prefix of the idempotency markers. */
export const MARKER_PREFIX = 'firebreak.dev/';
export const RESTARTED_AT_ANNOTATION = 'kubectl.kubernetes.io/restartedAt';
export const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';
const POD_TEMPLATE_HASH_LABEL = 'pod-template-hash';
const DEFAULT_CONTAINER_ANNOTATION = 'kubectl.kubernetes.io/default-container';

/** The marker annotation key for an action of an incident: `firebreak.dev/<16 hex>-<action>`. */
export function markerKey(incidentId: string, action: string): string {
  return `${MARKER_PREFIX}${fnv1a64(incidentId)}-${action}`;
}

export function readMarker<T>(
  deployment: { metadata?: { annotations?: Record<string, string> } },
  key: string,
): T | undefined {
  const raw = deployment.metadata?.annotations?.[key];
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw) as T;
  } catch {
    return undefined;
  }
}

/** RFC 3339 in whole seconds, like Go's time.Format(time.RFC3339) in a UTC process. */
export function rfc3339Now(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function labelSelectorString(selector: V1LabelSelector | undefined): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(selector?.matchLabels ?? {})) parts.push(`${key}=${value}`);
  for (const expr of selector?.matchExpressions ?? []) {
    const values = (expr.values ?? []).join(',');
    if (expr.operator === 'In') parts.push(`${expr.key} in (${values})`);
    else if (expr.operator === 'NotIn') parts.push(`${expr.key} notin (${values})`);
    else if (expr.operator === 'Exists') parts.push(expr.key);
    else if (expr.operator === 'DoesNotExist') parts.push(`!${expr.key}`);
  }
  return parts.join(',');
}

export function isoTime(value: Date | string | undefined | null): string | undefined {
  if (!value) return undefined;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.toISOString();
  return value;
}

export function summarizePod(pod: V1Pod): PodSummary {
  const statuses = pod.status?.containerStatuses ?? [];
  const containers: ContainerSummary[] = (pod.spec?.containers ?? []).map((container) => {
    const status = statuses.find((s) => s.name === container.name);
    const last = status?.lastState?.terminated ?? status?.state?.terminated;
    return {
      name: container.name,
      ready: status?.ready ?? false,
      restartCount: status?.restartCount ?? 0,
      ...(last
        ? { lastTermination: { reason: last.reason, exitCode: last.exitCode, finishedAt: isoTime(last.finishedAt) } }
        : {}),
    };
  });
  return {
    name: pod.metadata?.name ?? '',
    phase: pod.status?.phase ?? 'Unknown',
    ready: (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
    restarts: containers.reduce((sum, c) => sum + c.restartCount, 0),
    nodeName: pod.spec?.nodeName,
    containers,
  };
}

/** kubectl sorts events by `.lastTimestamp`; newer event APIs leave it empty and set eventTime instead. */
export function eventTime(event: CoreV1Event): string {
  return (
    isoTime(event.lastTimestamp) ??
    isoTime(event.eventTime) ??
    isoTime(event.firstTimestamp) ??
    isoTime(event.metadata?.creationTimestamp) ??
    ''
  );
}

export function summarizeEvent(event: CoreV1Event): EventSummary {
  return {
    type: event.type ?? '',
    reason: event.reason ?? '',
    message: event.message ?? '',
    object: `${event.involvedObject.kind ?? ''}/${event.involvedObject.name ?? ''}`,
    count: event.count ?? event.series?.count ?? 1,
    lastTimestamp: eventTime(event),
  };
}

/** kubectl's rollout-status verdict for a Deployment (polymorphichelpers.DeploymentStatusViewer). */
export function deploymentRolloutStatus(deployment: V1Deployment): RolloutStatus & { deadlineExceeded: boolean } {
  const name = deployment.metadata?.name ?? '';
  const status = deployment.status ?? {};
  const figures = {
    updatedReplicas: status.updatedReplicas ?? 0,
    availableReplicas: status.availableReplicas ?? 0,
    replicas: status.replicas ?? 0,
  };
  const answer = (message: string, complete = false, deadlineExceeded = false) => ({
    complete,
    message,
    deadlineExceeded,
    ...figures,
  });
  if ((deployment.metadata?.generation ?? 0) > (status.observedGeneration ?? 0)) {
    return answer('Waiting for deployment spec update to be observed...');
  }
  const progressing = (status.conditions ?? []).find((c) => c.type === 'Progressing');
  if (progressing?.reason === 'ProgressDeadlineExceeded') {
    return answer(`deployment "${name}" exceeded its progress deadline`, false, true);
  }
  const desired = deployment.spec?.replicas;
  if (desired !== undefined && figures.updatedReplicas < desired) {
    return answer(
      `Waiting for deployment "${name}" rollout to finish: ${figures.updatedReplicas} out of ${desired} new replicas have been updated...`,
    );
  }
  if (figures.replicas > figures.updatedReplicas) {
    return answer(
      `Waiting for deployment "${name}" rollout to finish: ${figures.replicas - figures.updatedReplicas} old replicas are pending termination...`,
    );
  }
  if (figures.availableReplicas < figures.updatedReplicas) {
    return answer(
      `Waiting for deployment "${name}" rollout to finish: ${figures.availableReplicas} of ${figures.updatedReplicas} updated replicas are available...`,
    );
  }
  return answer(`deployment "${name}" successfully rolled out`, true);
}

/**
 * Semantic equality of API JSON the way apimachinery's equality.Semantic sees it for templates:
 * an empty list or map equals an absent one.
 */
export function semanticEqual(a: unknown, b: unknown): boolean {
  const isEmpty = (v: unknown) =>
    v === undefined ||
    v === null ||
    (Array.isArray(v) && v.length === 0) ||
    (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0);
  if (isEmpty(a) && isEmpty(b)) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => semanticEqual(v, b[i]));
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const key of keys) {
      if (!semanticEqual((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key])) return false;
    }
    return true;
  }
  return a === b;
}

export function withoutHashLabel(template: RawPodTemplate): RawPodTemplate {
  const labels = { ...(template.metadata?.labels ?? {}) };
  delete labels[POD_TEMPLATE_HASH_LABEL];
  return { ...template, metadata: { ...(template.metadata ?? {}), labels } };
}

/** Objects as the API server sends them, for the requests that must write back exactly what they read. */
export interface RawObjectMeta {
  name?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
  ownerReferences?: { uid: string; controller?: boolean }[];
}
export interface RawPodTemplate {
  metadata?: RawObjectMeta;
  spec?: { containers?: { image?: string }[] } & Record<string, unknown>;
}
export interface RawDeployment {
  metadata: RawObjectMeta;
  spec: { paused?: boolean; selector?: V1LabelSelector; template: RawPodTemplate };
}
export interface RawReplicaSet {
  metadata: RawObjectMeta;
  spec: { template: RawPodTemplate };
}

export function revisionOf(object: { metadata?: { annotations?: Record<string, string> } }): number | undefined {
  const raw = object.metadata?.annotations?.[REVISION_ANNOTATION];
  if (raw === undefined || !/^\d+$/.test(raw)) return undefined;
  return Number(raw);
}

/**
 * The container a change applies to: the one named, else the pod's default container
 * (kubectl.kubernetes.io/default-container), else the only one. Several and none named is refused:
 * guessing would change the wrong process's settings.
 */
export function pickContainer(
  containers: V1Container[],
  annotations: Record<string, string> | undefined,
  name?: string,
) {
  const wanted = name ?? annotations?.[DEFAULT_CONTAINER_ANNOTATION];
  if (wanted !== undefined) {
    const found = containers.find((c) => c.name === wanted);
    if (!found) {
      throw ApplicationFailure.nonRetryable(
        `container "${wanted}" not found; the pod template has ${containers.map((c) => c.name).join(', ')}`,
        ErrorType.INVALID_INPUT,
      );
    }
    return found;
  }
  if (containers.length === 1) return containers[0]!;
  throw ApplicationFailure.nonRetryable(
    `the pod template has ${containers.length} containers (${containers.map((c) => c.name).join(', ')}); name one`,
    ErrorType.INVALID_INPUT,
  );
}

/** The pod template's container a change applies to, by pickContainer's rules. */
export function templateContainer(deployment: V1Deployment, name?: string): V1Container {
  const template = deployment.spec?.template;
  return pickContainer(template?.spec?.containers ?? [], template?.metadata?.annotations, name);
}

/**
 * The strategic-merge patch kubectl sends to change one container of the pod template: the
 * containers keep their order, the change merges into the one named, and the idempotency marker
 * rides in the same request, guarded by the resourceVersion the change was computed from.
 */
export function containerPatch(
  deployment: V1Deployment,
  marker: Record<string, string>,
  container: { name: string } & Record<string, unknown>,
) {
  return {
    metadata: { resourceVersion: deployment.metadata?.resourceVersion, annotations: marker },
    spec: {
      template: {
        spec: {
          '$setElementOrder/containers': (deployment.spec?.template.spec?.containers ?? []).map((c) => ({
            name: c.name,
          })),
          containers: [container],
        },
      },
    },
  };
}

/** pickContainer without the refusal: undefined when the pod template has several containers and none is named. */
export function findContainer(
  containers: V1Container[],
  annotations: Record<string, string> | undefined,
  name?: string,
): V1Container | undefined {
  if (name === undefined && annotations?.[DEFAULT_CONTAINER_ANNOTATION] === undefined && containers.length !== 1) {
    return undefined;
  }
  return pickContainer(containers, annotations, name);
}

/** The exit code in an exec's final Status: 0 on Success, the ExitCode cause on NonZeroExitCode. */
export function execExitCode(status: V1Status): number | undefined {
  if (status.status === 'Success') return 0;
  if (status.reason === 'NonZeroExitCode') {
    const cause = status.details?.causes?.find((c) => c.reason === 'ExitCode');
    const code = cause?.message !== undefined ? Number(cause.message) : NaN;
    return Number.isInteger(code) ? code : undefined;
  }
  return undefined;
}

export function clamp(value: number | undefined, fallback: number, max: number): number {
  if (value === undefined || !Number.isFinite(value) || value <= 0) return fallback;
  return Math.min(value, max);
}

export function validateIncidentId(incidentId: string): void {
  if (!incidentId)
    throw ApplicationFailure.nonRetryable('incidentId is required for a mutation', ErrorType.INVALID_INPUT);
}

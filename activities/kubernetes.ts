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
 */
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { request as httpRequest } from 'node:http';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  Exec,
  PatchStrategy,
  setHeaderOptions,
  type CoreV1Event,
  type KubeConfig,
  type V1Container,
  type V1Deployment,
  type V1LabelSelector,
  type V1Pod,
  type V1Status,
} from '@kubernetes/client-node';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { ErrorType } from '../common/errors';
import { fnv1a64 } from '../common/ids';
import type { Target } from '../common/types';

export interface ContainerSummary {
  name: string;
  ready: boolean;
  restartCount: number;
  lastTermination?: { reason?: string; exitCode?: number; finishedAt?: string };
}
export interface PodSummary {
  name: string;
  phase: string;
  ready: boolean;
  restarts: number;
  nodeName?: string;
  containers: ContainerSummary[];
}
export interface EventSummary {
  type: string;
  reason: string;
  message: string;
  object: string;
  count: number;
  lastTimestamp: string;
}
export interface OomKill {
  pod?: string;
  container?: string;
  node?: string;
  at?: string;
  exitCode?: number;
  source: 'containerStatus' | 'nodeEvent';
  message?: string;
}
export interface RevisionInfo {
  revision: number;
  replicaSet: string;
  changeCause?: string;
  images: string[];
  createdAt?: string;
}
export interface MutationOptions {
  /** Idempotency marker: the same incident never applies the same change twice. */
  incidentId: string;
  dryRun?: boolean;
}
export interface RolloutRestartResult {
  restartedAt: string;
  /** True when this incident had already restarted the deployment (a retry after a crash). */
  alreadyApplied: boolean;
  generation: number;
}
export interface RolloutUndoResult {
  fromRevision: number;
  toRevision: number;
  alreadyApplied: boolean;
  /** Set when nothing was patched because the template already matched the revision (kubectl's "skipped rollback"). */
  skipped?: string;
}
export interface RolloutStatus {
  complete: boolean;
  message: string;
  updatedReplicas: number;
  availableReplicas: number;
  replicas: number;
}
export interface ScaleResult {
  previousReplicas: number;
  replicas: number;
  alreadyApplied: boolean;
}
/** Values before the change; null = the variable/resource was not set. */
export interface EnvChangeResult {
  container: string;
  previous: Record<string, string | null>;
  applied: Record<string, string | null>;
  alreadyApplied: boolean;
}
export interface ResourceChangeResult {
  container: string;
  previous: { limits: Record<string, string | null>; requests: Record<string, string | null> };
  applied: { limits: Record<string, string | null>; requests: Record<string, string | null> };
  alreadyApplied: boolean;
}
export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  truncated: boolean;
}

/** Annotation prefix of the idempotency markers. */
export const MARKER_PREFIX = 'firebreak.dev/';
export const RESTARTED_AT_ANNOTATION = 'kubectl.kubernetes.io/restartedAt';
export const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';
const CHANGE_CAUSE_ANNOTATION = 'kubernetes.io/change-cause';
const POD_TEMPLATE_HASH_LABEL = 'pod-template-hash';
const DEFAULT_CONTAINER_ANNOTATION = 'kubectl.kubernetes.io/default-container';
const FIELD_MANAGER = 'firebreak';
/** kubectl's rollback keeps these from the Deployment instead of copying them from the ReplicaSet. */
const ANNOTATIONS_KEPT_ON_UNDO = new Set([
  'kubectl.kubernetes.io/last-applied-configuration',
  REVISION_ANNOTATION,
  'deployment.kubernetes.io/revision-history',
  'deployment.kubernetes.io/desired-replicas',
  'deployment.kubernetes.io/max-replicas',
  'deprecated.deployment.rollback.to',
]);
const DEFAULT_EVENT_LIMIT = 20;
const MAX_EVENT_LIMIT = 500;
const DEFAULT_LOG_TAIL_LINES = 200;
const LOG_LIMIT_BYTES = 256 * 1024;
const DEFAULT_EXEC_OUTPUT_BYTES = 1024 * 1024;
const MAX_EXEC_OUTPUT_BYTES = 16 * 1024 * 1024;
const DEFAULT_EXEC_TIMEOUT_SECONDS = 60;
const MAX_EXEC_TIMEOUT_SECONDS = 30 * 60;
const ROLLOUT_POLL_MS = 1000;
const MAX_ROLLOUT_TIMEOUT_SECONDS = 6 * 60 * 60;
const REQUEST_TIMEOUT_MS = 30_000;
const CONFLICT_ATTEMPTS = 5;

/** What a request was trying to do, so a refusal can name the object and the RBAC rule it lacks. */
interface Access {
  verb: string;
  /** `resource[/subresource]` with its API group, as an RBAC rule names it, e.g. `deployments.apps`. */
  resource: string;
  namespace?: string;
  name?: string;
  /** Said after a refusal, when RBAC needs more than the one verb (exec over WebSocket). */
  rbacHint?: string;
}

function describe(access: Access): string {
  const where = access.namespace ? ` in namespace ${access.namespace}` : '';
  return access.name ? `${access.resource} "${access.name}"${where}` : `${access.resource}${where}`;
}

function statusMessage(body: unknown): string | undefined {
  let parsed = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      return body.trim() || undefined;
    }
  }
  if (parsed && typeof parsed === 'object' && 'message' in parsed && typeof parsed.message === 'string') {
    return parsed.message;
  }
  return undefined;
}

/** HTTP 409: the object changed under us (a controller updated its status). Re-read and try again. */
export class ConflictError extends Error {
  override name = 'ConflictError';
}

/** Maps an API failure to the catalogue: permanent ones become non-retryable, the rest stay retryable. */
export function toActivityError(err: unknown, access: Access): Error {
  if (err instanceof ApplicationFailure) return err;
  const code = err instanceof ApiException ? err.code : wsStatusCode(err);
  const serverMessage = err instanceof ApiException ? statusMessage(err.body) : undefined;
  const detail = serverMessage ? `: ${serverMessage}` : '';
  if (code === 404) {
    return ApplicationFailure.nonRetryable(`${describe(access)} not found${detail}`, ErrorType.TARGET_NOT_FOUND);
  }
  if (code === 403) {
    return ApplicationFailure.nonRetryable(
      `forbidden: RBAC does not allow verb "${access.verb}" on resource "${access.resource}"` +
        `${access.namespace ? ` in namespace "${access.namespace}"` : ''} (needed for ${describe(access)})${detail}` +
        (access.rbacHint ? `; ${access.rbacHint}` : ''),
      ErrorType.FORBIDDEN,
    );
  }
  if (code === 401) {
    // Credentials expire and get rotated (projected tokens, exec plugins): worth another attempt.
    return new Error(`unauthorized calling ${access.verb} ${describe(access)}${detail}`);
  }
  if (code === 400 || code === 422) {
    return ApplicationFailure.nonRetryable(
      `${access.verb} ${describe(access)} rejected by the API server${detail}`,
      ErrorType.INVALID_INPUT,
    );
  }
  if (code === 409) return new ConflictError(`${access.verb} ${describe(access)} conflicted${detail}`);
  if (code !== undefined) {
    // 429 throttling, 5xx: transient by nature.
    return new Error(`${access.verb} ${describe(access)} failed with HTTP ${code}${detail}`);
  }
  const message = err instanceof Error ? err.message : String(err);
  return new Error(`${access.verb} ${describe(access)} failed: ${message}`);
}

function wsStatusCode(err: unknown): number | undefined {
  const message =
    err && typeof err === 'object' && 'message' in err && typeof err.message === 'string' ? err.message : undefined;
  const match = message ? /Unexpected server response: (\d{3})/.exec(message) : null;
  return match ? Number(match[1]) : undefined;
}

/**
 * Runs a read-compute-patch step again when it lost a race: controllers update a Deployment's
 * status constantly, and every patch here carries the resourceVersion it was computed from. After
 * a few tries the conflict goes to Temporal's retry policy like any transient error.
 */
async function retryOnConflict<T>(step: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await step();
    } catch (err) {
      if (!(err instanceof ConflictError) || attempt >= CONFLICT_ATTEMPTS) throw err;
      // An activity cancelled meanwhile stops here instead of patching again.
      await sleep(50 * attempt, undefined, { signal: activityContext()?.cancellationSignal });
    }
  }
}

async function call<T>(access: Access, fn: () => Promise<T>): Promise<T> {
  // Every request is progress: under LONG_REMEDIATION's heartbeat timeout, an attempt lost with its
  // worker is retried in seconds (the markers make the retry safe) instead of at start-to-close.
  activityContext()?.heartbeat();
  try {
    return await fn();
  } catch (err) {
    throw toActivityError(err, access);
  }
}

/** The activity context when running under Temporal; undefined when called directly (tests, scripts). */
function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

/** The marker annotation key for an action of an incident: `firebreak.dev/<16 hex>-<action>`. */
export function markerKey(incidentId: string, action: string): string {
  return `${MARKER_PREFIX}${fnv1a64(incidentId)}-${action}`;
}

function readMarker<T>(
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
function rfc3339Now(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function labelSelectorString(selector: V1LabelSelector | undefined): string {
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

function isoTime(value: Date | string | undefined | null): string | undefined {
  if (!value) return undefined;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.toISOString();
  return value;
}

function summarizePod(pod: V1Pod): PodSummary {
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
function eventTime(event: CoreV1Event): string {
  return (
    isoTime(event.lastTimestamp) ??
    isoTime(event.eventTime) ??
    isoTime(event.firstTimestamp) ??
    isoTime(event.metadata?.creationTimestamp) ??
    ''
  );
}

function summarizeEvent(event: CoreV1Event): EventSummary {
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
function semanticEqual(a: unknown, b: unknown): boolean {
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

function withoutHashLabel(template: RawPodTemplate): RawPodTemplate {
  const labels = { ...(template.metadata?.labels ?? {}) };
  delete labels[POD_TEMPLATE_HASH_LABEL];
  return { ...template, metadata: { ...(template.metadata ?? {}), labels } };
}

/** Objects as the API server sends them, for the requests that must write back exactly what they read. */
interface RawObjectMeta {
  name?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
  ownerReferences?: { uid: string; controller?: boolean }[];
}
interface RawPodTemplate {
  metadata?: RawObjectMeta;
  spec?: { containers?: { image?: string }[] } & Record<string, unknown>;
}
interface RawDeployment {
  metadata: RawObjectMeta;
  spec: { paused?: boolean; selector?: V1LabelSelector; template: RawPodTemplate };
}
interface RawReplicaSet {
  metadata: RawObjectMeta;
  spec: { template: RawPodTemplate };
}

function revisionOf(object: { metadata?: { annotations?: Record<string, string> } }): number | undefined {
  const raw = object.metadata?.annotations?.[REVISION_ANNOTATION];
  if (raw === undefined || !/^\d+$/.test(raw)) return undefined;
  return Number(raw);
}

/**
 * The container a change applies to: the one named, else the pod's default container
 * (kubectl.kubernetes.io/default-container), else the only one. Several and none named is refused:
 * guessing would change the wrong process's settings.
 */
function pickContainer(containers: V1Container[], annotations: Record<string, string> | undefined, name?: string) {
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

/** A sink that keeps the first `limit` bytes and counts the rest. */
class CappedBuffer extends Writable {
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  truncated = false;

  constructor(private readonly limit: number) {
    super();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    const room = this.limit - this.kept;
    if (chunk.length > room) this.truncated = true;
    if (room > 0) {
      const part = chunk.subarray(0, room);
      this.chunks.push(part);
      this.kept += part.length;
    }
    done();
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
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

function clamp(value: number | undefined, fallback: number, max: number): number {
  if (value === undefined || !Number.isFinite(value) || value <= 0) return fallback;
  return Math.min(value, max);
}

function validateIncidentId(incidentId: string): void {
  if (!incidentId)
    throw ApplicationFailure.nonRetryable('incidentId is required for a mutation', ErrorType.INVALID_INPUT);
}

export function createKubernetesActivities(kubeConfig: KubeConfig) {
  const apps = kubeConfig.makeApiClient(AppsV1Api);
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const exec = new Exec(kubeConfig);
  const dryRunOf = (dryRun?: boolean) => (dryRun ? 'All' : undefined);

  const deploymentAccess = (target: Target, verb: string, resource = 'deployments.apps'): Access => ({
    verb,
    resource,
    namespace: target.namespace,
    name: target.deployment,
  });

  const readDeployment = (target: Target) =>
    call(deploymentAccess(target, 'get'), () =>
      apps.readNamespacedDeployment({ name: target.deployment, namespace: target.namespace }),
    );

  const patchDeployment = (target: Target, body: unknown, strategy: PatchStrategy, dryRun?: boolean) =>
    call(deploymentAccess(target, 'patch'), () =>
      apps.patchNamespacedDeployment(
        {
          name: target.deployment,
          namespace: target.namespace,
          body,
          dryRun: dryRunOf(dryRun),
          fieldManager: FIELD_MANAGER,
        },
        setHeaderOptions('Content-Type', strategy),
      ),
    );

  /**
   * GET in the API server's own JSON, for objects we write back: the generated models of
   * client-node drop fields they do not know, and a rollback must not lose any.
   */
  async function getRaw<T>(apiPath: string, access: Access): Promise<T> {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster)
      throw ApplicationFailure.nonRetryable('the kubeconfig has no current cluster', ErrorType.NOT_CONFIGURED);
    const url = new URL(apiPath, cluster.server);
    const options: RequestOptions = {
      method: 'GET',
      headers: { accept: 'application/json' },
      timeout: REQUEST_TIMEOUT_MS,
    };
    await kubeConfig.applyToHTTPSOptions(options);
    const requester = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const answer = await call(
      access,
      () =>
        new Promise<{ status: number; body: string; headers: Record<string, string> }>((resolve, reject) => {
          const req = requester(url, options, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (chunk: Buffer) => chunks.push(chunk));
            res.on('end', () =>
              resolve({
                status: res.statusCode ?? 0,
                body: Buffer.concat(chunks).toString('utf8'),
                headers: Object.fromEntries(Object.entries(res.headers).map(([k, v]) => [k, String(v)])),
              }),
            );
            res.on('error', reject);
          });
          req.on('timeout', () => req.destroy(new Error(`GET ${url.pathname} timed out`)));
          req.on('error', reject);
          req.end();
        }),
    );
    if (answer.status < 200 || answer.status > 299) {
      throw toActivityError(new ApiException(answer.status, 'request failed', answer.body, answer.headers), access);
    }
    return JSON.parse(answer.body) as T;
  }

  async function ownedReplicaSets(deployment: RawDeployment, target: Target): Promise<RawReplicaSet[]> {
    const selector = encodeURIComponent(labelSelectorString(deployment.spec.selector));
    const list = await getRaw<{ items: RawReplicaSet[] }>(
      `/apis/apps/v1/namespaces/${encodeURIComponent(target.namespace)}/replicasets?labelSelector=${selector}`,
      { verb: 'list', resource: 'replicasets.apps', namespace: target.namespace },
    );
    return list.items.filter((rs) =>
      (rs.metadata.ownerReferences ?? []).some((ref) => ref.controller && ref.uid === deployment.metadata.uid),
    );
  }

  return {
    /**
     * Pods selected by the Deployment's selector: phase, readiness, restarts and each container's
     * last termination (reason, exit code). Read-only; no idempotency key; QUICK profile.
     */
    async listDeploymentPods(target: Target): Promise<PodSummary[]> {
      const deployment = await readDeployment(target);
      const pods = await call({ verb: 'list', resource: 'pods', namespace: target.namespace }, () =>
        core.listNamespacedPod({
          namespace: target.namespace,
          labelSelector: labelSelectorString(deployment.spec?.selector),
        }),
      );
      return pods.items.map(summarizePod).sort((a, b) => a.name.localeCompare(b.name));
    },

    /**
     * The namespace's most recent events, newest last (`kubectl get events --sort-by=.lastTimestamp`
     * and keep the tail). Read-only; no idempotency key; QUICK profile.
     */
    async listRecentEvents(input: { namespace: string; limit?: number }): Promise<EventSummary[]> {
      const limit = clamp(input.limit, DEFAULT_EVENT_LIMIT, MAX_EVENT_LIMIT);
      const events = await call({ verb: 'list', resource: 'events', namespace: input.namespace }, () =>
        core.listNamespacedEvent({ namespace: input.namespace }),
      );
      return events.items
        .map(summarizeEvent)
        .sort((a, b) => a.lastTimestamp.localeCompare(b.lastTimestamp))
        .slice(-limit);
    },

    /**
     * OOM kills of the Deployment's pods. Kubelets never emit an `OOMKilled` event: the kill is in
     * each container's lastState (or state) `terminated` with reason OOMKilled / exit code 137; the
     * kernel's view comes as `OOMKilling` / `SystemOOM` events on the nodes running those pods.
     * Read-only; no idempotency key; QUICK profile.
     */
    async findOomKills(target: Target): Promise<OomKill[]> {
      const deployment = await readDeployment(target);
      const pods = await call({ verb: 'list', resource: 'pods', namespace: target.namespace }, () =>
        core.listNamespacedPod({
          namespace: target.namespace,
          labelSelector: labelSelectorString(deployment.spec?.selector),
        }),
      );
      const kills: OomKill[] = [];
      // A node's OOM events concern us only from the moment one of our pods ran there.
      const nodes = new Map<string, string>();
      for (const pod of pods.items) {
        const node = pod.spec?.nodeName;
        const since = isoTime(pod.metadata?.creationTimestamp) ?? '';
        if (node && (!nodes.has(node) || since < nodes.get(node)!)) nodes.set(node, since);
        for (const status of pod.status?.containerStatuses ?? []) {
          for (const terminated of [status.lastState?.terminated, status.state?.terminated]) {
            if (terminated?.reason !== 'OOMKilled') continue;
            kills.push({
              source: 'containerStatus',
              pod: pod.metadata?.name,
              container: status.name,
              node: pod.spec?.nodeName,
              at: isoTime(terminated.finishedAt),
              exitCode: terminated.exitCode,
              message: terminated.message,
            });
          }
        }
      }
      if (nodes.size > 0) {
        // Node events are namespaced in "default" (a Node has no namespace of its own).
        const events = await call({ verb: 'list', resource: 'events', namespace: 'default' }, () =>
          core.listNamespacedEvent({ namespace: 'default', fieldSelector: 'involvedObject.kind=Node' }),
        );
        for (const event of events.items) {
          const node = event.involvedObject.name;
          if (!node || (event.reason !== 'OOMKilling' && event.reason !== 'SystemOOM')) continue;
          const since = nodes.get(node);
          const at = eventTime(event);
          if (since === undefined || at < since) continue;
          kills.push({ source: 'nodeEvent', node, at, message: event.message });
        }
      }
      return kills.sort((a, b) => (a.at ?? '').localeCompare(b.at ?? ''));
    },

    /**
     * A container's log (`kubectl logs [--previous] --tail`), capped at 256 KiB. Read-only; no
     * idempotency key; QUICK profile.
     */
    async readPodLogs(input: {
      namespace: string;
      pod: string;
      container?: string;
      previous?: boolean;
      tailLines?: number;
    }): Promise<string> {
      return call({ verb: 'get', resource: 'pods/log', namespace: input.namespace, name: input.pod }, () =>
        core.readNamespacedPodLog({
          name: input.pod,
          namespace: input.namespace,
          container: input.container,
          previous: input.previous ?? false,
          tailLines: clamp(input.tailLines, DEFAULT_LOG_TAIL_LINES, 100_000),
          limitBytes: LOG_LIMIT_BYTES,
        }),
      );
    },

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
        return { restartedAt, alreadyApplied: false, generation: patched.metadata?.generation ?? 0 };
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
        const template = deployment.spec?.template;
        const container = pickContainer(
          template?.spec?.containers ?? [],
          template?.metadata?.annotations,
          input.container,
        );
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
        const patch = {
          metadata: {
            resourceVersion: deployment.metadata?.resourceVersion,
            annotations: { [key]: JSON.stringify({ previous }) },
          },
          spec: {
            template: {
              spec: {
                '$setElementOrder/containers': (template?.spec?.containers ?? []).map((c) => ({ name: c.name })),
                containers: [
                  { name: container.name, '$setElementOrder/env': order.map((name) => ({ name })), env: changes },
                ],
              },
            },
          },
        };
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
        const template = deployment.spec?.template;
        const container = pickContainer(
          template?.spec?.containers ?? [],
          template?.metadata?.annotations,
          input.container,
        );
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
          {
            metadata: {
              resourceVersion: deployment.metadata?.resourceVersion,
              annotations: { [key]: JSON.stringify({ previous, applied: wanted }) },
            },
            spec: {
              template: {
                spec: {
                  '$setElementOrder/containers': (template?.spec?.containers ?? []).map((c) => ({ name: c.name })),
                  containers: [{ name: container.name, resources }],
                },
              },
            },
          },
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

    /**
     * `kubectl exec`: runs a command in a container and waits for it to END (client-node resolves
     * when the socket opens; the exit status arrives later on the status channel). Output is capped
     * (default 1 MiB per stream). Changes nothing itself — what the command does is the caller's
     * business; not idempotent, so the runbook must only exec read-only commands (heap profile).
     * QUICK profile in the runbooks (the heap profile's exec is capped at 25 s); heartbeats while it waits.
     */
    async execInPod(input: {
      namespace: string;
      pod: string;
      container?: string;
      command: string[];
      maxOutputBytes?: number;
      timeoutSeconds?: number;
    }): Promise<ExecResult> {
      if (input.command.length === 0) throw ApplicationFailure.nonRetryable('empty command', ErrorType.INVALID_INPUT);
      const access: Access = {
        verb: 'create',
        resource: 'pods/exec',
        namespace: input.namespace,
        name: input.pod,
        rbacHint: 'exec over WebSocket needs both "get" and "create" on pods/exec',
      };
      const pod = await call({ verb: 'get', resource: 'pods', namespace: input.namespace, name: input.pod }, () =>
        core.readNamespacedPod({ name: input.pod, namespace: input.namespace }),
      );
      const containerName =
        input.container ?? pickContainer(pod.spec?.containers ?? [], pod.metadata?.annotations, undefined).name;
      if (pod.status?.phase !== 'Running') {
        throw ApplicationFailure.nonRetryable(
          `cannot exec in pod ${input.namespace}/${input.pod}: it is ${pod.status?.phase ?? 'Unknown'}, not Running`,
          ErrorType.INVALID_INPUT,
        );
      }
      const limit = clamp(input.maxOutputBytes, DEFAULT_EXEC_OUTPUT_BYTES, MAX_EXEC_OUTPUT_BYTES);
      const timeoutMs = clamp(input.timeoutSeconds, DEFAULT_EXEC_TIMEOUT_SECONDS, MAX_EXEC_TIMEOUT_SECONDS) * 1000;
      const stdout = new CappedBuffer(limit);
      const stderr = new CappedBuffer(limit);
      const context = activityContext();

      let settle!: (status: V1Status | undefined) => void;
      const finished = new Promise<V1Status | undefined>((resolve) => (settle = resolve));
      const socket = await call(access, () =>
        exec.exec(input.namespace, input.pod, containerName, input.command, stdout, stderr, null, false, (status) =>
          settle(status),
        ),
      );
      socket.on('close', () => settle(undefined));
      const heartbeat = context ? setInterval(() => context.heartbeat({ pod: input.pod }), 5000) : undefined;
      // Ends the timer and the cancellation listener once the command is over.
      const over = new AbortController();
      const timedOut = sleep(timeoutMs, 'timeout' as const, { signal: over.signal });
      const cancelled = context
        ? once(context.cancellationSignal, 'abort', { signal: over.signal }).then(() => 'cancelled' as const)
        : new Promise<never>(() => undefined);
      try {
        const outcome = await Promise.race([finished, timedOut, cancelled]);
        if (outcome === 'timeout') {
          throw ApplicationFailure.nonRetryable(
            `command in ${input.namespace}/${input.pod} (${containerName}) still running after ${timeoutMs / 1000}s`,
            ErrorType.EXEC_TIMED_OUT,
          );
        }
        if (outcome === 'cancelled') throw new Error(`exec in ${input.namespace}/${input.pod} cancelled`);
        if (!outcome) {
          throw new Error(`exec in ${input.namespace}/${input.pod} closed before the command reported its exit status`);
        }
        const exitCode = execExitCode(outcome);
        if (exitCode === undefined) {
          // The command never ran (not found, container gone): the runtime's words say why.
          throw new Error(
            `exec in ${input.namespace}/${input.pod} (${containerName}) failed: ${outcome.message ?? outcome.reason ?? 'unknown error'}`,
          );
        }
        return {
          exitCode,
          stdout: stdout.text(),
          stderr: stderr.text(),
          truncated: stdout.truncated || stderr.truncated,
        };
      } finally {
        over.abort();
        if (heartbeat) clearInterval(heartbeat);
        socket.close();
      }
    },
  };
}

export type KubernetesActivities = ReturnType<typeof createKubernetesActivities>;

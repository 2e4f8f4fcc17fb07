/**
 * Which workload a pod belongs to, found the way `kubectl describe pod` finds "Controlled By": the
 * pod's controller owner reference, and for a ReplicaSet the ReplicaSet's own controller, the
 * Deployment. Standard alerts (the kubernetes-mixin's KubePodCrashLooping, KubePodNotReady,
 * KubeContainerWaiting, OOM-kill rules) name a pod, never its Deployment; runbooks act on
 * Deployments. A pod controlled by anything else (StatefulSet, DaemonSet, Job…) is named as such,
 * so the sender can be told why nothing started.
 *
 * A pod deleted since the alert fired is followed through the ReplicaSet its name (or a
 * pod-template-hash label) points at; with that gone too, the Deployment is inferred from the
 * names and confirmed to exist. Answers are remembered briefly (ExpiringLru) and concurrent
 * questions about one pod share one lookup. Needs `get` on pods, replicasets, deployments and jobs.
 */
import {
  ApiException,
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  ServerConfiguration,
  createConfiguration,
  type KubeConfig,
  type V1ObjectMeta,
} from '@kubernetes/client-node';
import { ExpiringLru } from './cache';

export type PodOwner =
  | { kind: 'deployment'; name: string; replicaSet: string; note?: string }
  | { kind: 'workload'; ownerKind: string; name: string; note?: string }
  | { kind: 'unowned' }
  | { kind: 'unresolved'; reason: string; transient: boolean };

export interface OwnerHints {
  /** The `pod-template-hash` of the pod, when the alert carries it (a kube_pod_labels join). */
  podTemplateHash?: string;
}

export interface OwnerResolver {
  podOwner(namespace: string, pod: string, hints?: OwnerHints): Promise<PodOwner>;
}

export interface OwnerResolverOptions {
  ttlMs?: number;
  maxEntries?: number;
  requestTimeoutMs?: number;
  now?: () => number;
}

export const OWNER_CACHE_TTL_MS = 30_000;
export const OWNER_CACHE_MAX_ENTRIES = 2_000;
export const OWNER_REQUEST_TIMEOUT_MS = 2_000;

/** Kubernetes' random suffixes (generateName, pod-template-hash) use this alphabet only. */
const SAFE = '[bcdfghjklmnpqrstvwxz2456789]';
const REPLICASET_POD = new RegExp(`^(.+)-${SAFE}{5}$`);
const DEPLOYMENT_REPLICASET = new RegExp(`^(.+)-${SAFE}{1,10}$`);

type Read<T> = { kind: 'found'; value: T } | { kind: 'missing' } | { kind: 'failed'; owner: PodOwner };

interface Owned {
  metadata?: V1ObjectMeta;
}

/** kubectl's metav1.GetControllerOf: the one owner reference with `controller: true`. */
function controllerOf(object: Owned): { kind: string; name: string } | undefined {
  return object.metadata?.ownerReferences?.find((ref) => ref.controller === true);
}

/** API clients whose every request gives up after `timeoutMs`, so a hung API server cannot hold a webhook. */
function apiClients(kubeConfig: KubeConfig, timeoutMs: number) {
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  const configuration = createConfiguration({
    baseServer: new ServerConfiguration(cluster.server, {}),
    authMethods: { default: kubeConfig },
    promiseMiddleware: [
      {
        pre: async (context) => {
          context.setSignal(AbortSignal.timeout(timeoutMs));
          return context;
        },
        post: async (response) => response,
      },
    ],
  });
  return {
    core: new CoreV1Api(configuration),
    apps: new AppsV1Api(configuration),
    batch: new BatchV1Api(configuration),
  };
}

export function createOwnerResolver(kubeConfig: KubeConfig, options: OwnerResolverOptions = {}): OwnerResolver {
  const { core, apps, batch } = apiClients(kubeConfig, options.requestTimeoutMs ?? OWNER_REQUEST_TIMEOUT_MS);
  const ttl = options.ttlMs ?? OWNER_CACHE_TTL_MS;
  const max = options.maxEntries ?? OWNER_CACHE_MAX_ENTRIES;
  // Keyed `pod:<ns>/<name>` and `replicaset:<ns>/<name>`: pods of one ReplicaSet share its answer.
  const answers = new ExpiringLru<string, PodOwner>(max, ttl, options.now);
  const inFlight = new Map<string, Promise<PodOwner>>();

  async function read<T>(what: string, call: () => Promise<T>): Promise<Read<T>> {
    try {
      return { kind: 'found', value: await call() };
    } catch (err) {
      if (err instanceof ApiException && err.code === 404) return { kind: 'missing' };
      if (err instanceof ApiException && (err.code === 401 || err.code === 403)) {
        const reason = `the Kubernetes API refused to ${what} (HTTP ${err.code}); the ingress needs get on pods, replicasets, deployments and jobs (the firebreak-ingress ClusterRole of \`firebreak rbac\`, for the identity FIREBREAK_INGRESS_KUBECONFIG names)`;
        return { kind: 'failed', owner: { kind: 'unresolved', reason, transient: false } };
      }
      const message = err instanceof ApiException ? `HTTP ${err.code}` : (err as Error).message;
      return {
        kind: 'failed',
        owner: { kind: 'unresolved', reason: `could not ${what}: ${message}`, transient: true },
      };
    }
  }

  /** Remembers definite answers only: a timeout now may be an answer in a second. */
  function remembered(key: string, lookup: () => Promise<PodOwner>): Promise<PodOwner> {
    const cached = answers.get(key);
    if (cached) return Promise.resolve(cached);
    const pending = inFlight.get(key);
    if (pending) return pending;
    const started = lookup()
      .then((owner) => {
        if (owner.kind !== 'unresolved' || !owner.transient) answers.set(key, owner);
        return owner;
      })
      .finally(() => inFlight.delete(key));
    inFlight.set(key, started);
    return started;
  }

  async function lookUpPod(namespace: string, pod: string, hints: OwnerHints): Promise<PodOwner> {
    const found = await read(`get pod ${namespace}/${pod}`, () => core.readNamespacedPod({ namespace, name: pod }));
    if (found.kind === 'failed') return found.owner;
    if (found.kind === 'missing') return afterPodGone(namespace, pod, hints);
    const controller = controllerOf(found.value);
    if (!controller) return { kind: 'unowned' };
    if (controller.kind === 'ReplicaSet') return replicaSetOwner(namespace, controller.name);
    if (controller.kind === 'Job') return jobOwner(namespace, controller.name);
    return { kind: 'workload', ownerKind: controller.kind, name: controller.name };
  }

  function replicaSetOwner(namespace: string, replicaSet: string, gonePod?: string): Promise<PodOwner> {
    return remembered(`replicaset:${namespace}/${replicaSet}`, async () => {
      const found = await read(`get replicaset ${namespace}/${replicaSet}`, () =>
        apps.readNamespacedReplicaSet({ namespace, name: replicaSet }),
      );
      if (found.kind === 'failed') return found.owner;
      if (found.kind === 'missing') return afterReplicaSetGone(namespace, replicaSet, gonePod);
      const controller = controllerOf(found.value);
      if (controller?.kind === 'Deployment') return { kind: 'deployment', name: controller.name, replicaSet };
      if (controller) return { kind: 'workload', ownerKind: controller.kind, name: controller.name };
      return { kind: 'workload', ownerKind: 'ReplicaSet', name: replicaSet, note: 'no Deployment manages it' };
    });
  }

  async function jobOwner(namespace: string, job: string): Promise<PodOwner> {
    const found = await read(`get job ${namespace}/${job}`, () => batch.readNamespacedJob({ namespace, name: job }));
    const cronJob = found.kind === 'found' ? controllerOf(found.value) : undefined;
    return {
      kind: 'workload',
      ownerKind: 'Job',
      name: job,
      ...(cronJob ? { note: `created by ${cronJob.kind} ${cronJob.name}` } : {}),
    };
  }

  async function afterPodGone(namespace: string, pod: string, hints: OwnerHints): Promise<PodOwner> {
    const replicaSet = replicaSetOfPodName(pod, hints.podTemplateHash);
    if (!replicaSet) {
      return {
        kind: 'unresolved',
        reason: `pod ${namespace}/${pod} no longer exists, and its name does not say which ReplicaSet made it`,
        transient: false,
      };
    }
    const owner = await replicaSetOwner(namespace, replicaSet, pod);
    if (owner.kind !== 'deployment' || owner.note) return owner;
    return { ...owner, note: `pod ${pod} no longer exists; followed ReplicaSet ${replicaSet}, named after it` };
  }

  async function afterReplicaSetGone(namespace: string, replicaSet: string, gonePod?: string): Promise<PodOwner> {
    const gone: PodOwner = {
      kind: 'unresolved',
      reason: gonePod
        ? `pod ${namespace}/${gonePod} and ReplicaSet ${replicaSet} no longer exist`
        : `ReplicaSet ${namespace}/${replicaSet}, the pod's controller, no longer exists`,
      transient: false,
    };
    const deployment = gonePod ? DEPLOYMENT_REPLICASET.exec(replicaSet)?.[1] : undefined;
    if (!deployment) return gone;
    const found = await read(`get deployment ${namespace}/${deployment}`, () =>
      apps.readNamespacedDeployment({ namespace, name: deployment }),
    );
    if (found.kind === 'failed') return found.owner;
    if (found.kind === 'missing') return gone;
    return {
      kind: 'deployment',
      name: deployment,
      replicaSet,
      note: `pod ${gonePod} and ReplicaSet ${replicaSet} no longer exist; Deployment ${deployment} inferred from their names`,
    };
  }

  return {
    podOwner: (namespace, pod, hints = {}) =>
      remembered(`pod:${namespace}/${pod}`, () => lookUpPod(namespace, pod, hints)),
  };
}

/** `<replicaset>-<5 random>` is how a ReplicaSet names its pods; with the hash known, it must end in it. */
export function replicaSetOfPodName(pod: string, podTemplateHash?: string): string | undefined {
  const replicaSet = REPLICASET_POD.exec(pod)?.[1];
  if (!replicaSet) return undefined;
  if (podTemplateHash && !replicaSet.endsWith(`-${podTemplateHash}`)) return undefined;
  return replicaSet;
}

/** How an owner reads in an answer to the sender: "StatefulSet db", "Job nightly (created by CronJob nightly)". */
export function describeOwner(owner: PodOwner): string {
  switch (owner.kind) {
    case 'deployment':
      return `Deployment ${owner.name}`;
    case 'workload':
      return `${owner.ownerKind} ${owner.name}${owner.note ? ` (${owner.note})` : ''}`;
    case 'unowned':
      return 'no controller (a bare pod)';
    case 'unresolved':
      return `unknown: ${owner.reason}`;
  }
}

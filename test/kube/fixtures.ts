/**
 * Helpers for tests against the bed's control plane (test/bed/kube.ts): namespaces per test,
 * deployments shaped for kwok, the reference kubectl, and bounded waits.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  RbacAuthorizationV1Api,
  type V1Deployment,
  type V1Role,
  type V1RoleBinding,
  type V1Secret,
} from '@kubernetes/client-node';
import { rbacManifests, type RbacOptions } from '../../runbooks/rbac';

export interface KubeTestEnv {
  kubeconfig: string;
  kubectl: string;
  node: string;
}

/** The bed's connection info, or undefined when the run started without the Kubernetes bed. */
export function kubeTestEnv(): KubeTestEnv | undefined {
  const kubeconfig = process.env.FIREBREAK_TEST_KUBECONFIG;
  const kubectl = process.env.FIREBREAK_TEST_KUBECTL;
  if (!kubeconfig || !kubectl) return undefined;
  return { kubeconfig, kubectl, node: process.env.FIREBREAK_TEST_KUBE_NODE ?? 'kwok-node-0' };
}

export const SKIP_WITHOUT_KUBE = kubeTestEnv()
  ? false
  : 'needs the Kubernetes bed (FIREBREAK_TEST_KUBECONFIG, FIREBREAK_TEST_KUBECTL)';

export function loadKubeConfig(path: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return kc;
}

/** A KubeConfig for the same cluster as `admin`, authenticating with a bearer token. */
export function kubeConfigWithToken(admin: KubeConfig, token: string, user = 'token-user'): KubeConfig {
  const cluster = admin.getCurrentCluster();
  if (!cluster) throw new Error('admin kubeconfig has no cluster');
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [cluster],
    users: [{ name: user, token }],
    contexts: [{ name: 'ctx', cluster: cluster.name, user }],
    currentContext: 'ctx',
  });
  return kc;
}

/** A short-lived token of a service account (TokenRequest), as `kubectl create token` makes. */
export async function serviceAccountToken(
  admin: KubeConfig,
  account: { name: string; namespace: string },
  expirationSeconds = 3600,
): Promise<string> {
  const answer = await admin.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({
    name: account.name,
    namespace: account.namespace,
    body: { spec: { audiences: [], expirationSeconds } },
  });
  const token = answer.status?.token;
  if (!token) throw new Error(`no token for serviceaccount ${account.namespace}/${account.name}`);
  return token;
}

/**
 * What the kube-controller-manager's token controller wrote into a service-account-token Secret
 * (`token`, `ca.crt`), as a pod mounting that Secret would see it. Waits for the controller.
 */
export async function serviceAccountTokenSecret(
  admin: KubeConfig,
  secret: { name: string; namespace: string },
  timeoutMs = 30_000,
): Promise<{ token: string; caCrt: string }> {
  const core = admin.makeApiClient(CoreV1Api);
  let found: { token: string; caCrt: string } | undefined;
  await waitUntil(
    `the token controller to fill secret ${secret.namespace}/${secret.name}`,
    async () => {
      const data = (await core.readNamespacedSecret(secret)).data ?? {};
      if (!data.token || !data['ca.crt']) return false;
      found = {
        token: Buffer.from(data.token, 'base64').toString('utf8'),
        caCrt: Buffer.from(data['ca.crt'], 'base64').toString('utf8'),
      };
      return true;
    },
    timeoutMs,
  );
  return found!;
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function kubectl(env: KubeTestEnv, args: string[], timeoutMs = 60_000): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(
      env.kubectl,
      args,
      { env: { ...process.env, KUBECONFIG: env.kubeconfig }, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** kubectl that must succeed; returns stdout. */
export async function kubectlOk(env: KubeTestEnv, args: string[], timeoutMs?: number): Promise<string> {
  const result = await kubectl(env, args, timeoutMs);
  if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${result.code}): ${result.stderr}`);
  return result.stdout;
}

export async function waitUntil(what: string, probe: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      if (await probe()) return;
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

export async function createNamespace(kc: KubeConfig, prefix: string): Promise<string> {
  const name = uniqueName(prefix);
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name } } });
  return name;
}

export async function deleteNamespace(kc: KubeConfig, name: string): Promise<void> {
  try {
    await kc.makeApiClient(CoreV1Api).deleteNamespace({ name });
  } catch {
    // already gone; the namespace controller finishes the rest on its own
  }
}

export interface DeploymentShape {
  replicas?: number;
  image?: string;
  env?: { name: string; value: string }[];
  containers?: string[];
  nodeSelector?: Record<string, string>;
  progressDeadlineSeconds?: number;
  annotations?: Record<string, string>;
}

export function deploymentManifest(name: string, shape: DeploymentShape = {}): V1Deployment {
  const labels = { app: name };
  const containerNames = shape.containers ?? ['app'];
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, labels, annotations: shape.annotations },
    spec: {
      replicas: shape.replicas ?? 1,
      selector: { matchLabels: labels },
      progressDeadlineSeconds: shape.progressDeadlineSeconds,
      // Fast rollouts: kwok makes pods ready at once, so surge everything.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '100%', maxUnavailable: 0 } },
      template: {
        metadata: { labels },
        spec: {
          nodeSelector: shape.nodeSelector,
          containers: containerNames.map((container) => ({
            name: container,
            image: shape.image ?? 'registry.example/app:v1',
            env: shape.env,
          })),
        },
      },
    },
  };
}

export async function createDeployment(
  kc: KubeConfig,
  namespace: string,
  name: string,
  shape: DeploymentShape = {},
): Promise<V1Deployment> {
  return kc.makeApiClient(AppsV1Api).createNamespacedDeployment({ namespace, body: deploymentManifest(name, shape) });
}

/** `kubectl rollout status` as the neutral judge of "the controllers have settled". */
export async function settled(env: KubeTestEnv, namespace: string, name: string): Promise<void> {
  await kubectlOk(env, ['-n', namespace, 'rollout', 'status', `deployment/${name}`, '--timeout=60s'], 70_000);
}

/** The Deployment as the API server stores it (raw JSON via kubectl, no client model in between). */
export async function rawDeployment(env: KubeTestEnv, namespace: string, name: string): Promise<RawDeploymentJson> {
  return JSON.parse(await kubectlOk(env, ['-n', namespace, 'get', `deployment/${name}`, '-o', 'json']));
}

export interface RawContainerJson {
  name: string;
  image?: string;
  env?: { name: string; value?: string }[];
  resources?: { limits?: Record<string, string>; requests?: Record<string, string> };
}

export interface RawDeploymentJson {
  metadata: { annotations?: Record<string, string>; generation: number; resourceVersion: string };
  spec: {
    replicas: number;
    template: {
      metadata: { annotations?: Record<string, string>; labels?: Record<string, string> };
      spec: { containers: RawContainerJson[] } & Record<string, unknown>;
    };
  };
  status?: Record<string, unknown>;
}

/**
 * Applies what `firebreak rbac` prints for these options, as an operator would (`kubectl apply`):
 * existing objects are kept, Roles replaced so a bed shared across runs holds today's rules.
 */
export async function applyGeneratedRbac(admin: KubeConfig, options: RbacOptions): Promise<void> {
  const core = admin.makeApiClient(CoreV1Api);
  const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
  const ignoreExists = async (fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (err) {
      if (!(err instanceof ApiException && err.code === 409)) throw err;
    }
  };
  for (const doc of rbacManifests(options) as Array<{ kind: string; metadata: { name: string; namespace: string } }>) {
    const namespace = doc.metadata.namespace;
    if (doc.kind === 'Namespace') await ignoreExists(() => core.createNamespace({ body: doc }));
    else if (doc.kind === 'ServiceAccount') {
      await ignoreExists(() => core.createNamespacedServiceAccount({ namespace, body: doc }));
    } else if (doc.kind === 'Role') {
      await ignoreExists(() => rbac.createNamespacedRole({ namespace, body: doc as V1Role }));
      await rbac.replaceNamespacedRole({ name: doc.metadata.name, namespace, body: doc as V1Role });
    } else if (doc.kind === 'ClusterRole') {
      await ignoreExists(() => rbac.createClusterRole({ body: doc as V1Role }));
      await rbac.replaceClusterRole({ name: doc.metadata.name, body: doc as V1Role });
    } else if (doc.kind === 'ClusterRoleBinding') {
      // Replaced too: a bed that ran an older generator keeps no stale subject.
      await ignoreExists(() => rbac.createClusterRoleBinding({ body: doc as V1RoleBinding }));
      await rbac.replaceClusterRoleBinding({ name: doc.metadata.name, body: doc as V1RoleBinding });
    } else if (doc.kind === 'RoleBinding') {
      await ignoreExists(() => rbac.createNamespacedRoleBinding({ namespace, body: doc as V1RoleBinding }));
      await rbac.replaceNamespacedRoleBinding({ name: doc.metadata.name, namespace, body: doc as V1RoleBinding });
    } else if (doc.kind === 'Secret') {
      await ignoreExists(() => core.createNamespacedSecret({ namespace, body: doc as V1Secret }));
    } else throw new Error(`unexpected kind ${doc.kind} from rbacManifests`);
  }
}

/** A container's log lines as a container runtime writes them (CRI format), the way kwok reads them. */
export function criLog(lines: readonly string[], stream: 'stdout' | 'stderr' = 'stdout'): string {
  return lines.map((line) => `2026-01-01T00:00:00.000000000Z ${stream} F ${line}\n`).join('');
}

/**
 * Makes kwok serve these logs for a pod's container: `current` for `kubectl logs`, `previous` for
 * `kubectl logs --previous` (kwok's Logs object pointing at files under `dir`).
 */
export async function serveKwokLogs(
  kc: KubeConfig,
  target: { namespace: string; pod: string; container?: string; dir: string },
  logs: { current: string; previous: string },
): Promise<void> {
  const dir = await mkdtemp(path.join(target.dir, 'pod-logs-'));
  await writeFile(path.join(dir, 'current.log'), logs.current);
  await writeFile(path.join(dir, 'previous.log'), logs.previous);
  await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
    group: 'kwok.x-k8s.io',
    version: 'v1alpha1',
    namespace: target.namespace,
    plural: 'logs',
    body: {
      apiVersion: 'kwok.x-k8s.io/v1alpha1',
      kind: 'Logs',
      metadata: { name: target.pod, namespace: target.namespace },
      spec: {
        logs: [
          {
            containers: [target.container ?? 'app'],
            logsFile: path.join(dir, 'current.log'),
            previousLogsFile: path.join(dir, 'previous.log'),
          },
        ],
      },
    },
  });
}

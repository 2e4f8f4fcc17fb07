/**
 * Following alerting pods to their Deployments on the bed's real control plane: each kind of owner
 * kubectl would name, pods deleted since the alert fired, the brief memory of answers, and the
 * bound on lookups a notification of thousands of pods may cause — with an identity holding
 * exactly the ingress's role from deploy/kubernetes/rbac.yaml.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  PatchStrategy,
  RbacAuthorizationV1Api,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { DEFAULT_ROUTES } from '../ingress/alerts/default-routes';
import { MAX_OWNER_LOOKUPS, routeAlertGroup } from '../ingress/alerts/targets';
import { clusterAccess } from '../ingress/kubernetes/access';
import { ExpiringLru } from '../ingress/kubernetes/cache';
import { createOwnerResolver, replicaSetOfPodName, type OwnerResolver } from '../ingress/kubernetes/owners';
import type { AlertInstance } from '../domain/messages';
import { podNames, podSuffix, workloadWithPod } from './alerts-support';
import { freePort } from './bed/ports';
import { DEFAULT_SERVICE_ACCOUNT, ingressServiceAccountFor, ingressTokenSecretName } from '../runbooks/rbac';
import {
  applyGeneratedRbac,
  createDeployment,
  createNamespace,
  deleteNamespace,
  kubeConfigWithToken,
  kubectlOk,
  kubeTestEnv,
  loadKubeConfig,
  serviceAccountToken,
  serviceAccountTokenSecret,
  settled,
  SKIP_WITHOUT_KUBE,
  waitUntil,
  type KubeTestEnv,
} from './kube/fixtures';

describe('the answer cache and pod names (pure)', () => {
  test('entries expire after their TTL and the least recently used goes first', () => {
    let now = 0;
    const cache = new ExpiringLru<string, number>(2, 1_000, () => now);
    cache.set('a', 1);
    cache.set('b', 2);
    assert.equal(cache.get('a'), 1, 'a is now the most recently used');
    cache.set('c', 3);
    assert.equal(cache.get('b'), undefined, 'b was the least recently used');
    assert.equal(cache.size, 2);
    now = 1_000;
    assert.equal(cache.get('a'), undefined, 'expired');
    assert.equal(cache.get('c'), undefined);
  });

  test('a ReplicaSet names its pods <replicaset>-<5 safe characters>', () => {
    assert.equal(replicaSetOfPodName('checkout-7d9f8c6b5-x2b4q'), 'checkout-7d9f8c6b5');
    assert.equal(replicaSetOfPodName('checkout-7d9f8c6b5-x2b4q', '7d9f8c6b5'), 'checkout-7d9f8c6b5');
    assert.equal(replicaSetOfPodName('checkout-7d9f8c6b5-x2b4q', '5b6c8f9d7'), undefined, 'not that hash');
    assert.equal(replicaSetOfPodName('db-0'), undefined, 'a StatefulSet pod');
    assert.equal(replicaSetOfPodName('checkout-7d9f8c6b5-xaeio'), undefined, 'vowels never appear');
  });
});

describe('which cluster the ingress asks (pure)', () => {
  const nothing = { exists: () => false, home: '/home/nobody', inCluster: false };

  test("KUBECONFIG, else in-cluster, else ~/.kube/config, else none — never client-node's localhost guess", async () => {
    const none = clusterAccess({ KUBECONFIG: undefined }, nothing);
    assert.deepEqual(none, {
      ok: false,
      reason: 'no KUBECONFIG, no in-cluster service account and no ~/.kube/config',
    });
    const broken = clusterAccess({ KUBECONFIG: '/nonexistent/kubeconfig' }, nothing);
    assert.ok(!broken.ok && broken.reason.startsWith('KUBECONFIG (/nonexistent/kubeconfig) could not be loaded'));
    const home = await mkdtemp(path.join(tmpdir(), 'firebreak-home-'));
    const file = path.join(home, '.kube', 'config');
    await mkdir(path.dirname(file));
    await writeFile(
      file,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters: [{ name: c, cluster: { server: "https://10.0.0.1:6443" } }]',
        'users: [{ name: u, user: { token: t } }]',
        'contexts: [{ name: x, context: { cluster: c, user: u } }]',
        'current-context: x',
        '',
      ].join('\n'),
    );
    const fromHome = clusterAccess({ KUBECONFIG: undefined }, { exists: existsSync, home, inCluster: false });
    assert.ok(fromHome.ok && fromHome.source === '~/.kube/config (https://10.0.0.1:6443)');
    const explicit = clusterAccess({ KUBECONFIG: file }, nothing);
    assert.ok(explicit.ok && explicit.source === 'KUBECONFIG (https://10.0.0.1:6443)');
    assert.ok(explicit.ok && !explicit.ownIdentity, "KUBECONFIG is the worker's identity, borrowed");
    await rm(home, { recursive: true, force: true });
  });

  test("FIREBREAK_INGRESS_KUBECONFIG, the ingress's own identity, wins: a kubeconfig, or a token Secret's directory in a pod", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'firebreak-ingress-id-'));
    try {
      const file = path.join(dir, 'ingress.kubeconfig');
      await writeFile(
        file,
        [
          'apiVersion: v1',
          'kind: Config',
          'clusters: [{ name: c, cluster: { server: "https://10.0.0.2:6443" } }]',
          'users: [{ name: u, user: { token: t } }]',
          'contexts: [{ name: x, context: { cluster: c, user: u } }]',
          'current-context: x',
          '',
        ].join('\n'),
      );
      const own = clusterAccess({ KUBECONFIG: '/worker/kubeconfig', FIREBREAK_INGRESS_KUBECONFIG: file }, nothing);
      assert.ok(own.ok && own.ownIdentity && own.source === 'FIREBREAK_INGRESS_KUBECONFIG (https://10.0.0.2:6443)');

      const mounted = path.join(dir, 'secret');
      await mkdir(mounted);
      const outside = clusterAccess({ FIREBREAK_INGRESS_KUBECONFIG: mounted }, nothing);
      assert.ok(!outside.ok && /needs the in-cluster API server/.test(outside.reason), JSON.stringify(outside));
      const inPod = { ...nothing, apiServer: 'https://10.96.0.1:443' };
      const unfilled = clusterAccess({ FIREBREAK_INGRESS_KUBECONFIG: mounted }, inPod);
      assert.ok(!unfilled.ok && /cannot read its token/.test(unfilled.reason), JSON.stringify(unfilled));
      await writeFile(path.join(mounted, 'token'), 'a-token\n');
      const filled = clusterAccess({ FIREBREAK_INGRESS_KUBECONFIG: mounted }, inPod);
      assert.ok(filled.ok && filled.ownIdentity, JSON.stringify(filled));
      assert.equal(filled.kubeConfig.getCurrentUser()?.token, 'a-token');
      assert.equal(filled.kubeConfig.getCurrentCluster()?.server, 'https://10.96.0.1:443');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('owner resolution on the real control plane', { skip: SKIP_WITHOUT_KUBE }, () => {
  let env: KubeTestEnv;
  let admin: KubeConfig;
  let ingressIdentity: KubeConfig;
  let namespace: string;
  let deploymentPod: string;
  let replicaSet: string;

  before(async () => {
    env = kubeTestEnv()!;
    admin = loadKubeConfig(env.kubeconfig);
    namespace = await createNamespace(admin, 'alerts-owners');
    ingressIdentity = kubeConfigWithToken(admin, await ingressToken(admin, namespace));
    await createDeployment(admin, namespace, 'checkout', { replicas: 2 });
    await settled(env, namespace, 'checkout');
    deploymentPod = (await podNames(admin, namespace, 'checkout'))[0]!;
    replicaSet = controllerOf(await kubectlJson(env, namespace, `pod/${deploymentPod}`)).name;
  });

  after(async () => {
    if (admin && namespace) await deleteNamespace(admin, namespace);
  });

  test("a Deployment's pod: the same ReplicaSet and Deployment kubectl names as its controllers", async () => {
    const owners = createOwnerResolver(ingressIdentity);
    const viaKubectl = controllerOf(await kubectlJson(env, namespace, `replicaset/${replicaSet}`));
    assert.deepEqual(viaKubectl, { kind: 'Deployment', name: 'checkout' });
    assert.deepEqual(await owners.podOwner(namespace, deploymentPod), {
      kind: 'deployment',
      name: 'checkout',
      replicaSet,
    });
  });

  test('StatefulSet, DaemonSet and CronJob pods are named as such; a bare pod has no controller', async () => {
    const owners = createOwnerResolver(ingressIdentity);
    const statefulPod = await workloadWithPod(admin, namespace, 'StatefulSet', 'db');
    const daemonPod = await workloadWithPod(admin, namespace, 'DaemonSet', 'agent');
    const cronPod = await workloadWithPod(admin, namespace, 'CronJob', 'nightly');
    await admin.makeApiClient(CoreV1Api).createNamespacedPod({
      namespace,
      body: { metadata: { name: 'debug' }, spec: { containers: [{ name: 'sh', image: 'registry.example/sh:v1' }] } },
    });
    assert.deepEqual(await owners.podOwner(namespace, statefulPod), {
      kind: 'workload',
      ownerKind: 'StatefulSet',
      name: 'db',
    });
    assert.deepEqual(await owners.podOwner(namespace, daemonPod), {
      kind: 'workload',
      ownerKind: 'DaemonSet',
      name: 'agent',
    });
    assert.deepEqual(await owners.podOwner(namespace, cronPod), {
      kind: 'workload',
      ownerKind: 'Job',
      name: 'nightly-29437380',
      note: 'created by CronJob nightly',
    });
    assert.deepEqual(await owners.podOwner(namespace, 'debug'), { kind: 'unowned' });
  });

  test('a pod deleted since the alert fired is followed through the ReplicaSet named in its name', async () => {
    const gone = `${replicaSet}-b7x9z`;
    assert.deepEqual(await createOwnerResolver(ingressIdentity).podOwner(namespace, gone), {
      kind: 'deployment',
      name: 'checkout',
      replicaSet,
      note: `pod ${gone} no longer exists; followed ReplicaSet ${replicaSet}, named after it`,
    });
  });

  test('pod and ReplicaSet both gone: the Deployment inferred from their names, if it exists', async () => {
    // A rollout with no history kept deletes the old ReplicaSet.
    const apps = admin.makeApiClient(AppsV1Api);
    await createDeployment(admin, namespace, 'cart', { replicas: 1 });
    await settled(env, namespace, 'cart');
    const [oldPod] = await podNames(admin, namespace, 'cart');
    const oldReplicaSet = replicaSetOfPodName(oldPod!)!;
    await apps.patchNamespacedDeployment(
      {
        namespace,
        name: 'cart',
        body: [
          { op: 'add', path: '/spec/revisionHistoryLimit', value: 0 },
          { op: 'replace', path: '/spec/template/spec/containers/0/image', value: 'registry.example/app:v2' },
        ],
      },
      setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
    );
    await settled(env, namespace, 'cart');
    await waitUntil('the old ReplicaSet deleted', () =>
      isGone(() => apps.readNamespacedReplicaSet({ namespace, name: oldReplicaSet })),
    );
    const owners = createOwnerResolver(ingressIdentity);
    assert.deepEqual(await owners.podOwner(namespace, oldPod!), {
      kind: 'deployment',
      name: 'cart',
      replicaSet: oldReplicaSet,
      note: `pod ${oldPod} and ReplicaSet ${oldReplicaSet} no longer exist; Deployment cart inferred from their names`,
    });
    assert.deepEqual(await owners.podOwner(namespace, 'ghost-7d9f8c6b5-x2b4q'), {
      kind: 'unresolved',
      reason: `pod ${namespace}/ghost-7d9f8c6b5-x2b4q and ReplicaSet ghost-7d9f8c6b5 no longer exist`,
      transient: false,
    });
    assert.deepEqual(await owners.podOwner(namespace, 'db-1'), {
      kind: 'unresolved',
      reason: `pod ${namespace}/db-1 no longer exists, and its name does not say which ReplicaSet made it`,
      transient: false,
    });
  });

  test('answers are remembered for the TTL, then asked again', async () => {
    let now = Date.now();
    const owners = createOwnerResolver(ingressIdentity, { ttlMs: 30_000, now: () => now });
    await createDeployment(admin, namespace, 'brief', { replicas: 1 });
    await settled(env, namespace, 'brief');
    const [pod] = await podNames(admin, namespace, 'brief');
    assert.equal((await owners.podOwner(namespace, pod!)).kind, 'deployment');
    const apps = admin.makeApiClient(AppsV1Api);
    await apps.deleteNamespacedDeployment({ namespace, name: 'brief', propagationPolicy: 'Foreground' });
    // Foreground deletion removes the pods, then the ReplicaSet, then the Deployment itself.
    await waitUntil(
      'the Deployment gone',
      () => isGone(() => apps.readNamespacedDeployment({ namespace, name: 'brief' })),
      60_000,
    );
    now += 29_000;
    assert.equal((await owners.podOwner(namespace, pod!)).kind, 'deployment', 'still the remembered answer');
    now += 2_000;
    assert.equal((await owners.podOwner(namespace, pod!)).kind, 'unresolved', 'asked again after the TTL');
  });

  test("`firebreak rbac`'s identities: the ingress's token Secret, mounted, follows pods anywhere; the worker's may not", async () => {
    // The worker is given another namespace: this one is outside its Roles, as most alerting ones are.
    const workerNs = await createNamespace(admin, 'alerts-owners-worker');
    const mounted = await mkdtemp(path.join(tmpdir(), 'firebreak-ingress-secret-'));
    try {
      await applyGeneratedRbac(admin, { namespaces: [workerNs] });
      const ingress = ingressServiceAccountFor(DEFAULT_SERVICE_ACCOUNT);
      const secret = await serviceAccountTokenSecret(admin, {
        name: ingressTokenSecretName(ingress),
        namespace: ingress.namespace,
      });
      // The files a pod mounting the Secret sees, and the API server it reaches in-cluster.
      await writeFile(path.join(mounted, 'token'), secret.token);
      await writeFile(path.join(mounted, 'ca.crt'), secret.caCrt);
      const access = clusterAccess(
        { KUBECONFIG: '/the/worker/kubeconfig', FIREBREAK_INGRESS_KUBECONFIG: mounted },
        { exists: existsSync, home: mounted, inCluster: true, apiServer: admin.getCurrentCluster()!.server },
      );
      assert.ok(access.ok && access.ownIdentity, JSON.stringify(access));
      assert.deepEqual(await createOwnerResolver(access.kubeConfig).podOwner(namespace, deploymentPod), {
        kind: 'deployment',
        name: 'checkout',
        replicaSet,
      });

      const worker = kubeConfigWithToken(admin, await serviceAccountToken(admin, DEFAULT_SERVICE_ACCOUNT));
      const refused = await createOwnerResolver(worker).podOwner(namespace, deploymentPod);
      assert.ok(
        refused.kind === 'unresolved' &&
          !refused.transient &&
          /refused to get pod .*HTTP 403.*FIREBREAK_INGRESS_KUBECONFIG/.test(refused.reason),
        JSON.stringify(refused),
      );
    } finally {
      await rm(mounted, { recursive: true, force: true });
      await deleteNamespace(admin, workerNs);
    }
  });

  test('refused or unreachable API: unresolved, transient only when asking again may help', async () => {
    const stranger = kubeConfigWithToken(admin, 'not-a-token');
    const refused = await createOwnerResolver(stranger).podOwner(namespace, deploymentPod);
    assert.equal(refused.kind, 'unresolved');
    assert.ok(
      refused.kind === 'unresolved' && !refused.transient && /HTTP 401/.test(refused.reason),
      JSON.stringify(refused),
    );
    const nowhere = new KubeConfig();
    const port = await freePort();
    nowhere.loadFromOptions({
      clusters: [{ name: 'c', server: `https://127.0.0.1:${port}`, skipTLSVerify: true }],
      users: [{ name: 'u', token: 't' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    const started = Date.now();
    const unreachable = await createOwnerResolver(nowhere, { requestTimeoutMs: 500 }).podOwner(namespace, 'p');
    assert.ok(unreachable.kind === 'unresolved' && unreachable.transient, JSON.stringify(unreachable));
    assert.ok(Date.now() - started < 5_000);
  });

  test('5,000 crash-looping pods of one Deployment, no rules written: one lookup, the P0 runbook', async () => {
    const real = createOwnerResolver(ingressIdentity);
    let lookups = 0;
    const counted: OwnerResolver = {
      podOwner: (...args) => {
        lookups += 1;
        return real.podOwner(...args);
      },
    };
    const alerts: AlertInstance[] = Array.from({ length: 5_000 }, (_, i) => ({
      fingerprint: `f${i}`,
      status: 'firing',
      labels: {
        alertname: 'KubePodCrashLooping',
        namespace,
        pod: i === 0 ? deploymentPod : `${replicaSet}-${podSuffix(i)}`,
        container: 'app',
        reason: 'CrashLoopBackOff',
        severity: 'warning',
      },
      annotations: {},
    }));
    const outcome = await routeAlertGroup(alerts, { rules: [], defaults: DEFAULT_ROUTES, owners: counted });
    assert.equal(lookups, 1);
    assert.ok(outcome.kind === 'routed', JSON.stringify(outcome));
    assert.equal(outcome.decision.runbook, 'p0-response');
    assert.equal(outcome.decision.via, 'default: KubePodCrashLooping');
    assert.equal(outcome.decision.severity, 'P2');
    assert.deepEqual(outcome.decision.targets, [{ namespace, deployment: 'checkout' }]);

    // Pods of many ReplicaSets: never more than MAX_OWNER_LOOKUPS, and the rest is said.
    lookups = 0;
    const scattered = alerts.map((alert, i) => ({
      ...alert,
      labels: { ...alert.labels, pod: `gone${i}-7d9f8c6b5-${podSuffix(i)}` },
    }));
    const bounded = await routeAlertGroup(scattered, { rules: [], defaults: DEFAULT_ROUTES, owners: counted });
    assert.equal(lookups, MAX_OWNER_LOOKUPS);
    assert.ok(bounded.kind === 'unusable' && !bounded.transient);
    assert.match(bounded.reason, /4992 alert\(s\) not followed to a Deployment \(at most 8 lookups/);
  });
});

/** True once reading the object answers 404. */
async function isGone(read: () => Promise<unknown>): Promise<boolean> {
  try {
    await read();
    return false;
  } catch (err) {
    return err instanceof ApiException && err.code === 404;
  }
}

async function kubectlJson(env: KubeTestEnv, namespace: string, object: string): Promise<Record<string, unknown>> {
  return JSON.parse(await kubectlOk(env, ['-n', namespace, 'get', object, '-o', 'json']));
}

function controllerOf(object: Record<string, unknown>): { kind: string; name: string } {
  const refs = (object.metadata as { ownerReferences?: { kind: string; name: string; controller?: boolean }[] })
    .ownerReferences;
  const ref = refs?.find((r) => r.controller);
  if (!ref) throw new Error('no controller');
  return { kind: ref.kind, name: ref.name };
}

/** A service account bound (in the test's namespace) to exactly the ClusterRole the ingress ships with. */
async function ingressToken(admin: KubeConfig, namespace: string): Promise<string> {
  const manifest = parseAllDocuments(await readFile('deploy/kubernetes/rbac.yaml', 'utf8')).map((d) => d.toJSON());
  const role = manifest.find((doc) => doc.kind === 'ClusterRole' && doc.metadata.name === 'firebreak-ingress');
  const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
  const core = admin.makeApiClient(CoreV1Api);
  try {
    await rbac.createClusterRole({ body: role });
  } catch (err) {
    if (!(err instanceof ApiException && err.code === 409)) throw err;
    await rbac.replaceClusterRole({ name: 'firebreak-ingress', body: role });
  }
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'ingress' } } });
  await rbac.createNamespacedRoleBinding({
    namespace,
    body: {
      metadata: { name: 'ingress' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'firebreak-ingress' },
      subjects: [{ kind: 'ServiceAccount', name: 'ingress', namespace }],
    },
  });
  const answer = await core.createNamespacedServiceAccountToken({
    name: 'ingress',
    namespace,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  return answer.status!.token;
}

/**
 * The sweep's comparator without a bed: when the deployment controller counts as done with a spec,
 * and how a difference is named. The regression case is avalanche-mitigation
 * `started:setDeploymentEnv#1` (docs/reliability.md): the Deployment's spec, generation and
 * annotations were the clean run's, but the cluster was read while the controller's revision
 * annotation still named the ReplicaSet of an earlier template (observedGeneration already equal
 * to generation), so the "current ReplicaSet" still had the mitigation's env and the run differed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  AppsV1Api,
  PatchStrategy,
  setHeaderOptions,
  Watch,
  type KubeConfig,
  type V1Deployment,
} from '@kubernetes/client-node';
import {
  createDeployment,
  createNamespace,
  deleteNamespace,
  kubectlOk,
  kubeTestEnv,
  loadKubeConfig,
  settled,
  SKIP_WITHOUT_KUBE,
  type KubeTestEnv,
} from '../kube/fixtures';
import {
  controllerPending,
  lostThreadPosts,
  pathDiff,
  repeatedThreadPosts,
  threadPostKey,
  type Observation,
} from './sweep';

const REVISION = 'deployment.kubernetes.io/revision';
const RESTARTED = { 'kubectl.kubernetes.io/restartedAt': '2026-12-03T10:00:00Z' };

function template(env: { name: string; value: string }[], hash?: string) {
  return {
    metadata: { annotations: RESTARTED, labels: { app: 'orders', ...(hash ? { 'pod-template-hash': hash } : {}) } },
    spec: { containers: [{ name: 'app', image: 'registry.example/app:v1', ...(env.length > 0 ? { env } : {}) }] },
  };
}

/** The restored Deployment, as its last restore left it: spec observed, revision annotation `revision`. */
function deployment(revision: string, observedGeneration = 7): V1Deployment {
  return {
    metadata: { name: 'orders', generation: 7, annotations: { [REVISION]: revision } },
    spec: { replicas: 1, selector: { matchLabels: { app: 'orders' } }, template: template([]) },
    status: { observedGeneration },
  } as V1Deployment;
}

function replicaSet(name: string, revision: string, env: { name: string; value: string }[]) {
  return {
    metadata: {
      name,
      annotations: { [REVISION]: revision },
      ownerReferences: [{ kind: 'Deployment', name: 'orders' }],
    },
    spec: { template: template(env, name.split('-')[1]) },
  };
}

const MITIGATED = replicaSet('orders-5d8f7c9b4', '4', [{ name: 'OTEL_TRACES_SAMPLER_ARG', value: '0.001' }]);
const RESTORED = replicaSet('orders-7b6c8d9f5', '5', []);

describe('chaos comparator', () => {
  test('the controller is not done while the revision annotation names an earlier template, though observedGeneration is equal', () => {
    // What the failing run read: spec restored and observed, revision 4 = the mitigated template.
    assert.equal(
      controllerPending([deployment('4')], [MITIGATED]),
      'orders: revision 4 (orders-5d8f7c9b4) holds an earlier template',
    );
    // The restored template's ReplicaSet exists, but the Deployment's annotation has not followed yet.
    assert.match(controllerPending([deployment('4')], [MITIGATED, RESTORED]) ?? '', /holds an earlier template/);
    assert.equal(controllerPending([deployment('6')], [MITIGATED, RESTORED]), 'orders: no ReplicaSet of revision 6');
    assert.equal(controllerPending([deployment('5', 6)], [MITIGATED, RESTORED]), 'orders: generation 7 observed 6');
    // Done: observed, and the current ReplicaSet holds the spec's template (hash label aside).
    assert.equal(controllerPending([deployment('5')], [MITIGATED, RESTORED]), undefined);
  });

  test('a ReplicaSet of another Deployment with the same revision does not count', () => {
    const other = {
      ...RESTORED,
      metadata: { ...RESTORED.metadata, ownerReferences: [{ kind: 'Deployment', name: 'x' }] },
    };
    assert.equal(controllerPending([deployment('5')], [MITIGATED, other]), 'orders: no ReplicaSet of revision 5');
  });

  test('differences are named by path, with both values', () => {
    const lines: string[] = [];
    pathDiff(
      { deployments: [{ generation: 7, spec: { env: [{ name: 'A', value: '1' }] } }] },
      {
        deployments: [
          {
            generation: 8,
            spec: {
              env: [
                { name: 'A', value: '1' },
                { name: 'B', value: '2' },
              ],
            },
          },
        ],
      },
      'cluster',
      lines,
    );
    assert.deepEqual(lines, [
      '  cluster.deployments[0].generation: clean 7 | chaos 8',
      '  cluster.deployments[0].spec.env[1]: clean ∅ | chaos {"name":"B","value":"2"}',
    ]);
  });

  // Session 8, p0-response with engine and server killed (`scheduled:requestHold#1`,
  // `timer-started:900s#1`): the clean run's probe of the test's own endpoint timed out, the chaos
  // runs' answered, and the post was counted as lost.
  const observation = (posts: string[]): Observation => {
    const threadPosts: Record<string, number> = {};
    for (const post of posts) threadPosts[threadPostKey(post)] = (threadPosts[threadPostKey(post)] ?? 0) + 1;
    return {
      boundaries: [],
      cluster: {},
      mutations: {},
      slack: { cards: 1, threadPosts },
      pages: {},
      postmortem: { status: 'resolved', mitigations: [], decisions: [] },
    };
  };
  const cleanPosts = [
    'Health before recovery: unhealthy: no complete answer within 5000 ms',
    'Health after recovery: healthy: HTTP 200 in 422 ms',
    'Pods of web:\nweb-<rs>-<pod>: Running, 0 restarts',
  ];
  const clean = observation(cleanPosts);

  test('a health probe post is the same post whatever the verdict of the test endpoint it probed', () => {
    const chaos = observation([
      'Health before recovery: healthy: HTTP 200 in 615 ms',
      'Health after recovery: healthy: HTTP 200 in 9 ms',
      'Pods of web:\nweb-<rs>-<pod>: Running, 1 restarts',
    ]);
    assert.deepEqual(lostThreadPosts(clean, chaos), []);
    assert.deepEqual(repeatedThreadPosts(clean, chaos), []);
  });

  test('a health probe post missing, or posted twice, still shows', () => {
    const lost = observation(['Health after recovery: healthy: HTTP 200 in 9 ms', 'Pods of web:\nnone']);
    assert.equal(lostThreadPosts(clean, lost).length, 1);
    assert.match(lostThreadPosts(clean, lost)[0]!, /"<verdict> Health before recovery:"/);
    const twice = observation([
      ...Object.keys(clean.slack.threadPosts),
      'Health before recovery: unreachable: ECONNREFUSED',
    ]);
    assert.equal(repeatedThreadPosts(clean, twice).length, 1);
    // Other posts are not masked: a different first line is a different post.
    const other = observation([
      'Health before recovery: healthy: HTTP 200 in 1 ms',
      'Health after recovery: healthy: HTTP 200 in 1 ms',
      'Pods of api:\nnone',
    ]);
    assert.equal(lostThreadPosts(clean, other).length, 1);
  });
});

/**
 * The controller window itself, on the bed's real kube-controller-manager: one patch that puts the
 * replica count and the template back together (restoration does it in two, which a busy
 * controller sees as one). The controller takes the sync as a scaling event: it scales the old
 * ReplicaSet and writes observedGeneration = generation before any ReplicaSet holds the new
 * template. Every version of the Deployment is watched, so the window is seen whatever the timing.
 */
describe('the deployment controller after a replica and template change together', { skip: SKIP_WITHOUT_KUBE }, () => {
  let env: KubeTestEnv;
  let kc: KubeConfig;
  let ns: string;

  before(async () => {
    env = kubeTestEnv()!;
    kc = loadKubeConfig(env.kubeconfig);
    ns = await createNamespace(kc, 'chaos-cmp');
  });

  after(async () => {
    await deleteNamespace(kc, ns);
  });

  test('observedGeneration reaches generation while the revision still names the earlier template', async () => {
    await createDeployment(kc, ns, 'orders', {
      replicas: 2,
      env: [{ name: 'OTEL_TRACES_SAMPLER_ARG', value: '0.001' }],
    });
    await settled(env, ns, 'orders');
    const apps = kc.makeApiClient(AppsV1Api);
    const before = await apps.readNamespacedDeployment({ name: 'orders', namespace: ns });
    const versions: V1Deployment[] = [];
    const request = await new Watch(kc).watch(
      `/apis/apps/v1/namespaces/${ns}/deployments`,
      { fieldSelector: 'metadata.name=orders', resourceVersion: before.metadata?.resourceVersion },
      (_type: string, object: V1Deployment) => versions.push(object),
      () => undefined,
    );
    try {
      const patched = await apps.patchNamespacedDeployment(
        {
          name: 'orders',
          namespace: ns,
          body: {
            spec: {
              replicas: 1,
              template: {
                spec: { containers: [{ name: 'app', env: [{ $patch: 'delete', name: 'OTEL_TRACES_SAMPLER_ARG' }] }] },
              },
            },
          },
        },
        setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
      );
      const generation = patched.metadata?.generation;
      const replicaSets = async () =>
        JSON.parse(await kubectlOk(env, ['-n', ns, 'get', 'replicasets', '-o', 'json'])).items as Parameters<
          typeof controllerPending
        >[1];
      // Done at last: the new template's ReplicaSet is the current one.
      let final: Parameters<typeof controllerPending>[1] = [];
      const deadline = Date.now() + 60_000;
      for (;;) {
        final = await replicaSets();
        const latest = versions.at(-1);
        if (latest && controllerPending([latest], final) === undefined) break;
        assert.ok(
          Date.now() < deadline,
          `the controller never finished: ${latest && controllerPending([latest], final)}`,
        );
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      const revision = (d: V1Deployment) => d.metadata?.annotations?.['deployment.kubernetes.io/revision'];
      const window = versions.find(
        (d) => d.status?.observedGeneration === generation && revision(d) === revision(before),
      );
      assert.ok(
        window,
        `no version observed generation ${generation} at revision ${revision(before)}: ` +
          JSON.stringify(versions.map((d) => [d.status?.observedGeneration, revision(d)])),
      );
      // What the sweep read in the failing run: observed, yet the current ReplicaSet is the earlier one.
      assert.match(controllerPending([window], final) ?? '', /holds an earlier template/);
    } finally {
      request.abort();
    }
  });
});

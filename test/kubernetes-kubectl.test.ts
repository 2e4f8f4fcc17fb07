/**
 * "kubectl agrees": two identical Deployments with the same history (same name, two namespaces),
 * one changed by our activities, the other by kubectl from the same build. After every step the
 * pod template, the annotations that matter, the replicas and `kubectl rollout history` must be
 * the same. And waitForRollout must agree with `kubectl rollout status` on a completing rollout, a
 * stuck one (ProgressDeadlineExceeded) and one that outlives the deadline.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { KubeConfig } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import {
  createKubernetesActivities,
  MARKER_PREFIX,
  RESTARTED_AT_ANNOTATION,
  type KubernetesActivities,
  type RolloutStatus,
} from '../activities/kubernetes';
import { ErrorType } from '../common/errors';
import {
  createDeployment,
  createNamespace,
  deleteNamespace,
  kubectl,
  kubectlOk,
  kubeTestEnv,
  loadKubeConfig,
  rawDeployment,
  settled,
  SKIP_WITHOUT_KUBE,
  type KubeTestEnv,
  type RawDeploymentJson,
} from './kube/fixtures';

const APP = 'checkout';
const quiet = { logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} } };

/**
 * What must agree: the pod template (restartedAt compared by presence, its value is a clock
 * reading), the replicas, and the Deployment's annotations except our idempotency markers.
 */
function comparable(deployment: RawDeploymentJson) {
  const template = structuredClone(deployment.spec.template);
  const annotations = template.metadata.annotations;
  if (annotations?.[RESTARTED_AT_ANNOTATION]) annotations[RESTARTED_AT_ANNOTATION] = '<restartedAt>';
  const own = Object.fromEntries(
    Object.entries(deployment.metadata.annotations ?? {}).filter(([key]) => !key.startsWith(MARKER_PREFIX)),
  );
  return { template, replicas: deployment.spec.replicas, annotations: own };
}

describe('kubectl agrees with our remediations', { skip: SKIP_WITHOUT_KUBE }, () => {
  let env: KubeTestEnv;
  let kc: KubeConfig;
  let k8s: KubernetesActivities;
  let ours: string;
  let theirs: string;

  const both = async () => {
    await Promise.all([settled(env, ours, APP), settled(env, theirs, APP)]);
    return { ours: await rawDeployment(env, ours, APP), theirs: await rawDeployment(env, theirs, APP) };
  };
  const assertAgree = async (step: string) => {
    const { ours: a, theirs: b } = await both();
    assert.deepEqual(comparable(a), comparable(b), `after ${step}`);
    const history = async (namespace: string) =>
      kubectlOk(env, ['-n', namespace, 'rollout', 'history', `deployment/${APP}`]);
    assert.equal(await history(ours), await history(theirs), `rollout history after ${step}`);
    return { ours: a, theirs: b };
  };

  before(async () => {
    env = kubeTestEnv()!;
    kc = loadKubeConfig(env.kubeconfig);
    k8s = createKubernetesActivities(kc);
    ours = await createNamespace(kc, 'agree-ours');
    theirs = await createNamespace(kc, 'agree-kubectl');
    const shape = {
      replicas: 2,
      image: 'registry.example/checkout:v1',
      env: [
        { name: 'OTEL_TRACES_SAMPLER_ARG', value: '1.0' },
        { name: 'LEGACY_MODE', value: 'on' },
      ],
    };
    await createDeployment(kc, ours, APP, shape);
    await createDeployment(kc, theirs, APP, shape);
    await both();
    // The same history on both: revision 2 is a new image, made by kubectl on each.
    for (const namespace of [ours, theirs]) {
      await kubectlOk(env, ['-n', namespace, 'set', 'image', `deployment/${APP}`, 'app=registry.example/checkout:v2']);
    }
    await assertAgree('the shared history');
  });

  after(async () => {
    await deleteNamespace(kc, ours);
    await deleteNamespace(kc, theirs);
  });

  test('rollout restart', async () => {
    await k8s.rolloutRestart({ namespace: ours, deployment: APP, incidentId: 'agree-restart' });
    await kubectlOk(env, ['-n', theirs, 'rollout', 'restart', `deployment/${APP}`]);
    const { ours: a, theirs: b } = await assertAgree('rollout restart');
    assert.match(a.spec.template.metadata.annotations?.[RESTARTED_AT_ANNOTATION] ?? '', /Z$/);
    assert.match(b.spec.template.metadata.annotations?.[RESTARTED_AT_ANNOTATION] ?? '', /Z$/);
  });

  test('set env (change, add, remove)', async () => {
    await k8s.setDeploymentEnv({
      namespace: ours,
      deployment: APP,
      incidentId: 'agree-env',
      env: { OTEL_TRACES_SAMPLER_ARG: '0.001', ENABLE_CIRCUIT_BREAKER: 'true', LEGACY_MODE: null },
    });
    await kubectlOk(env, [
      '-n',
      theirs,
      'set',
      'env',
      `deployment/${APP}`,
      'OTEL_TRACES_SAMPLER_ARG=0.001',
      'ENABLE_CIRCUIT_BREAKER=true',
      'LEGACY_MODE-',
    ]);
    const { ours: a } = await assertAgree('set env');
    assert.deepEqual(a.spec.template.spec.containers[0]?.env, [
      { name: 'OTEL_TRACES_SAMPLER_ARG', value: '0.001' },
      { name: 'ENABLE_CIRCUIT_BREAKER', value: 'true' },
    ]);
  });

  test('set resources', async () => {
    await k8s.setContainerResources({
      namespace: ours,
      deployment: APP,
      incidentId: 'agree-resources',
      container: 'app',
      limits: { memory: '2Gi', cpu: '500m' },
      requests: { memory: '512Mi' },
    });
    await kubectlOk(env, [
      '-n',
      theirs,
      'set',
      'resources',
      `deployment/${APP}`,
      '-c=app',
      '--limits=memory=2Gi,cpu=500m',
      '--requests=memory=512Mi',
    ]);
    const { ours: a } = await assertAgree('set resources');
    assert.deepEqual(a.spec.template.spec.containers[0]?.resources, {
      limits: { cpu: '500m', memory: '2Gi' },
      requests: { memory: '512Mi' },
    });
  });

  test('scale', async () => {
    await k8s.scaleDeployment({ namespace: ours, deployment: APP, incidentId: 'agree-scale', replicas: 3 });
    await kubectlOk(env, ['-n', theirs, 'scale', `deployment/${APP}`, '--replicas=3']);
    const { ours: a } = await assertAgree('scale');
    assert.equal(a.spec.replicas, 3);
  });

  test('rollout undo --to-revision=2, then undo to the previous revision', async () => {
    const before = await k8s.rolloutHistory({ namespace: ours, deployment: APP });
    assert.deepEqual(
      before.map((r) => r.revision),
      [1, 2, 3, 4, 5],
    );
    const toTwo = await k8s.rolloutUndo({ namespace: ours, deployment: APP, incidentId: 'agree-undo', toRevision: 2 });
    assert.deepEqual(toTwo, { fromRevision: 5, toRevision: 2, alreadyApplied: false });
    await kubectlOk(env, ['-n', theirs, 'rollout', 'undo', `deployment/${APP}`, '--to-revision=2']);
    const { ours: a } = await assertAgree('undo --to-revision=2');
    assert.equal(a.spec.template.spec.containers[0]?.image, 'registry.example/checkout:v2');
    assert.deepEqual(a.spec.template.spec.containers[0]?.resources ?? {}, {});

    const toPrevious = await k8s.rolloutUndo({ namespace: ours, deployment: APP, incidentId: 'agree-undo-previous' });
    assert.deepEqual(toPrevious, { fromRevision: 6, toRevision: 5, alreadyApplied: false });
    await kubectlOk(env, ['-n', theirs, 'rollout', 'undo', `deployment/${APP}`]);
    const { ours: b } = await assertAgree('undo');
    assert.deepEqual(b.spec.template.spec.containers[0]?.resources?.limits, { cpu: '500m', memory: '2Gi' });
  });

  test('rolloutHistory lists what `kubectl rollout history` lists', async () => {
    const text = await kubectlOk(env, ['-n', ours, 'rollout', 'history', `deployment/${APP}`]);
    const fromKubectl = text
      .split('\n')
      .map((line) => /^(\d+)\s+(.*)$/.exec(line.trim()))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({ revision: Number(m[1]), changeCause: m[2] === '<none>' ? undefined : m[2] }));
    const ourHistory = await k8s.rolloutHistory({ namespace: ours, deployment: APP });
    assert.deepEqual(
      ourHistory.map((r) => ({ revision: r.revision, changeCause: r.changeCause })),
      fromKubectl,
    );
    assert.deepEqual(
      fromKubectl.map((r) => r.revision),
      [1, 3, 4, 6, 7],
    );
    for (const revision of ourHistory) {
      const detail = await kubectlOk(env, [
        '-n',
        ours,
        'rollout',
        'history',
        `deployment/${APP}`,
        `--revision=${revision.revision}`,
      ]);
      assert.match(detail, new RegExp(`Image:\\s+${revision.images[0]!.replace(/[.]/g, '\\.')}`));
    }
  });
});

describe('waitForRollout agrees with kubectl rollout status', { skip: SKIP_WITHOUT_KUBE }, () => {
  let env: KubeTestEnv;
  let kc: KubeConfig;
  let k8s: KubernetesActivities;
  let ns: string;

  before(async () => {
    env = kubeTestEnv()!;
    kc = loadKubeConfig(env.kubeconfig);
    k8s = createKubernetesActivities(kc);
    ns = await createNamespace(kc, 'agree-status');
  });

  after(async () => {
    await deleteNamespace(kc, ns);
  });

  const ourWait = (deployment: string, timeoutSeconds: number) =>
    new MockActivityEnvironment(undefined, quiet).run(k8s.waitForRollout, {
      namespace: ns,
      deployment,
      timeoutSeconds,
    }) as Promise<RolloutStatus>;

  test('a completing rollout: both report success', async () => {
    await createDeployment(kc, ns, 'completes', { replicas: 3 });
    const [status, reference] = await Promise.all([
      ourWait('completes', 60),
      kubectl(env, ['-n', ns, 'rollout', 'status', 'deployment/completes', '--timeout=60s']),
    ]);
    assert.equal(reference.code, 0, reference.stderr);
    assert.equal(status.complete, true);
    const lastLine = reference.stdout.trim().split('\n').pop();
    assert.equal(status.message, lastLine);
  });

  test('a stuck rollout: ProgressDeadlineExceeded on both', async () => {
    await createDeployment(kc, ns, 'stuck', {
      replicas: 1,
      nodeSelector: { 'firebreak.dev/no-such-node': 'true' },
      progressDeadlineSeconds: 2,
    });
    const [ourOutcome, reference] = await Promise.all([
      ourWait('stuck', 60).then(
        () => undefined,
        (err: unknown) => err,
      ),
      kubectl(env, ['-n', ns, 'rollout', 'status', 'deployment/stuck', '--timeout=60s']),
    ]);
    assert.equal(reference.code, 1);
    assert.ok(ourOutcome instanceof ApplicationFailure);
    assert.equal(ourOutcome.type, ErrorType.ROLLOUT_DEADLINE_EXCEEDED);
    assert.equal(ourOutcome.nonRetryable, true);
    assert.equal(reference.stderr.trim(), `error: ${ourOutcome.message}`);
  });

  test('a rollout slower than the deadline: both give up at their own timeout', async () => {
    await createDeployment(kc, ns, 'slow', { replicas: 1, nodeSelector: { 'firebreak.dev/no-such-node': 'true' } });
    const [ourOutcome, reference] = await Promise.all([
      ourWait('slow', 3).then(
        () => undefined,
        (err: unknown) => err,
      ),
      kubectl(env, ['-n', ns, 'rollout', 'status', 'deployment/slow', '--timeout=3s']),
    ]);
    assert.equal(reference.code, 1);
    assert.match(reference.stderr, /timed out waiting for the condition/);
    assert.ok(ourOutcome instanceof ApplicationFailure);
    assert.equal(ourOutcome.type, ErrorType.ROLLOUT_TIMED_OUT);
    // The last verdict each saw is the same sentence.
    const lastProgress = reference.stdout.trim().split('\n').pop() ?? '';
    assert.ok(ourOutcome.message.endsWith(lastProgress), `${ourOutcome.message} vs ${lastProgress}`);
  });
});

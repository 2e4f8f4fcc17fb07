/**
 * Kubernetes activities on the bed's real control plane (etcd, kube-apiserver, controllers,
 * scheduler, kwok): diagnostics, remediations, idempotency under retry, dry run, restoring, error
 * paths, and the least-privilege namespace-scoped roles of `firebreak rbac`.
 */
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { after, before, describe, test } from 'node:test';
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  PatchStrategy,
  RbacAuthorizationV1Api,
  setHeaderOptions,
  type KubeConfig,
  type V1Pod,
} from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import {
  ConflictError,
  createKubernetesActivities,
  execExitCode,
  markerKey,
  MARKER_PREFIX,
  RESTARTED_AT_ANNOTATION,
  toActivityError,
  type KubernetesActivities,
} from '../activities/kubernetes';
import { ErrorType } from '../common/errors';
import {
  createDeployment,
  createNamespace,
  criLog,
  deleteNamespace,
  kubeConfigWithToken,
  kubectl,
  kubeTestEnv,
  loadKubeConfig,
  rawDeployment,
  serveKwokLogs,
  settled,
  SKIP_WITHOUT_KUBE,
  waitUntil,
  type KubeTestEnv,
  applyGeneratedRbac,
} from './kube/fixtures';

async function rejectsWith(promise: Promise<unknown>, type: string, message?: RegExp): Promise<ApplicationFailure> {
  let failure: ApplicationFailure | undefined;
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(err)}`);
    assert.equal(err.type, type, err.message);
    assert.equal(err.nonRetryable, true, 'permanent failures must not be retried');
    if (message) assert.match(err.message, message);
    failure = err;
    return true;
  });
  return failure!;
}

async function podsOf(kc: KubeConfig, namespace: string, app: string): Promise<V1Pod[]> {
  const list = await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace, labelSelector: `app=${app}` });
  return list.items;
}

/** Activity failures are the point of several tests: keep the SDK's warning about each one out of the output. */
const quiet = {
  logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} },
};

/** Runs an activity with a Temporal activity context (heartbeats, cancellation), typed. */
function inActivity<A extends unknown[], R>(
  activityEnv: MockActivityEnvironment,
  fn: (...args: A) => Promise<R>,
  ...args: A
): Promise<R> {
  return activityEnv.run(fn, ...args) as Promise<R>;
}

function markers(annotations: Record<string, string> | undefined): string[] {
  return Object.keys(annotations ?? {}).filter((k) => k.startsWith(MARKER_PREFIX));
}

describe('Kubernetes activities', { skip: SKIP_WITHOUT_KUBE }, () => {
  let env: KubeTestEnv;
  let kc: KubeConfig;
  let k8s: KubernetesActivities;
  let ns: string;
  const namespaces: string[] = [];

  before(async () => {
    env = kubeTestEnv()!;
    kc = loadKubeConfig(env.kubeconfig);
    k8s = createKubernetesActivities(kc);
    ns = await createNamespace(kc, 'k8s-act');
    namespaces.push(ns);
  });

  after(async () => {
    for (const name of namespaces) await deleteNamespace(kc, name);
  });

  describe('diagnostics', () => {
    test('listDeploymentPods reports phase, readiness, node and restarts of the deployment pods only', async () => {
      await createDeployment(kc, ns, 'pods-web', { replicas: 2 });
      await createDeployment(kc, ns, 'pods-other', { replicas: 1 });
      await settled(env, ns, 'pods-web');
      const pods = await k8s.listDeploymentPods({ namespace: ns, deployment: 'pods-web' });
      assert.equal(pods.length, 2);
      for (const pod of pods) {
        assert.match(pod.name, /^pods-web-/);
        assert.equal(pod.phase, 'Running');
        assert.equal(pod.ready, true);
        assert.equal(pod.nodeName, env.node);
        assert.equal(pod.restarts, 0);
        assert.deepEqual(
          pod.containers.map((c) => [c.name, c.ready, c.restartCount]),
          [['app', true, 0]],
        );
      }
    });

    test('OOM kills: container lastState OOMKilled/137 and OOMKilling node events', async () => {
      await createDeployment(kc, ns, 'oom', { replicas: 1 });
      await settled(env, ns, 'oom');
      const [pod] = await podsOf(kc, ns, 'oom');
      assert.ok(pod?.metadata?.name);
      const core = kc.makeApiClient(CoreV1Api);
      const finishedAt = '2026-01-02T03:04:05Z';
      // What a kubelet reports after the kernel OOM-killed the container and it was restarted.
      await core.patchNamespacedPodStatus(
        {
          name: pod.metadata.name,
          namespace: ns,
          body: {
            status: {
              containerStatuses: [
                {
                  name: 'app',
                  image: 'registry.example/app:v1',
                  imageID: '',
                  ready: true,
                  restartCount: 1,
                  started: true,
                  state: { running: { startedAt: '2026-01-02T03:04:06Z' } },
                  lastState: {
                    terminated: { reason: 'OOMKilled', exitCode: 137, startedAt: '2026-01-02T03:00:00Z', finishedAt },
                  },
                },
              ],
            },
          },
        },
        setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
      );
      const nodeEvent = (name: string, at: Date, pid: number) =>
        core.createNamespacedEvent({
          namespace: 'default',
          body: {
            metadata: { name, namespace: 'default' },
            involvedObject: { kind: 'Node', name: env.node, uid: env.node },
            reason: 'OOMKilling',
            type: 'Warning',
            message: `Out of memory: Killed process ${pid} (java) total-vm:8000000kB, anon-rss:2000000kB`,
            source: { component: 'kernel-monitor', host: env.node },
            firstTimestamp: at,
            lastTimestamp: at,
            count: 1,
          },
        });
      const eventName = `${env.node}.oom-${Date.now()}`;
      // Whole seconds: event timestamps have no sub-second part.
      await nodeEvent(eventName, new Date(Math.ceil(Date.now() / 1000) * 1000), 4242);
      // An OOM kill on that node long before our pod existed is someone else's.
      await nodeEvent(`${eventName}-old`, new Date('2020-01-01T00:00:00Z'), 1111);
      try {
        const kills = await k8s.findOomKills({ namespace: ns, deployment: 'oom' });
        const fromStatus = kills.find((k) => k.source === 'containerStatus');
        assert.deepEqual(fromStatus, {
          source: 'containerStatus',
          pod: pod.metadata.name,
          container: 'app',
          node: env.node,
          at: '2026-01-02T03:04:05.000Z',
          exitCode: 137,
          message: undefined,
        });
        const fromNode = kills.find((k) => k.source === 'nodeEvent' && k.message?.includes('process 4242'));
        assert.ok(fromNode, `no node event in ${JSON.stringify(kills)}`);
        assert.equal(fromNode.node, env.node);
        assert.ok(!kills.some((k) => k.message?.includes('process 1111')), 'an event from before the pod is reported');

        const [summary] = await k8s.listDeploymentPods({ namespace: ns, deployment: 'oom' });
        assert.equal(summary?.restarts, 1);
        assert.deepEqual(summary?.containers[0]?.lastTermination, {
          reason: 'OOMKilled',
          exitCode: 137,
          finishedAt: '2026-01-02T03:04:05.000Z',
        });
      } finally {
        await core.deleteNamespacedEvent({ name: eventName, namespace: 'default' });
        await core.deleteNamespacedEvent({ name: `${eventName}-old`, namespace: 'default' });
      }
    });

    test('findOomKills finds nothing on a healthy deployment', async () => {
      await createDeployment(kc, ns, 'healthy', { replicas: 1 });
      await settled(env, ns, 'healthy');
      assert.deepEqual(await k8s.findOomKills({ namespace: ns, deployment: 'healthy' }), []);
    });

    test('listRecentEvents sorts by lastTimestamp and keeps the newest, like --sort-by=.lastTimestamp', async () => {
      const eventsNs = await createNamespace(kc, 'k8s-events');
      namespaces.push(eventsNs);
      const core = kc.makeApiClient(CoreV1Api);
      const make = (name: string, at: string, reason: string) =>
        core.createNamespacedEvent({
          namespace: eventsNs,
          body: {
            metadata: { name, namespace: eventsNs },
            involvedObject: { kind: 'Pod', name: `pod-${name}`, namespace: eventsNs },
            reason,
            type: 'Warning',
            message: `${reason} happened`,
            firstTimestamp: new Date(at),
            lastTimestamp: new Date(at),
            count: 3,
          },
        });
      await make('b', '2026-01-01T00:00:02Z', 'Second');
      await make('c', '2026-01-01T00:00:03Z', 'Third');
      await make('a', '2026-01-01T00:00:01Z', 'First');
      const events = await k8s.listRecentEvents({ namespace: eventsNs, limit: 2 });
      assert.deepEqual(events, [
        {
          type: 'Warning',
          reason: 'Second',
          message: 'Second happened',
          object: 'Pod/pod-b',
          count: 3,
          lastTimestamp: '2026-01-01T00:00:02.000Z',
        },
        {
          type: 'Warning',
          reason: 'Third',
          message: 'Third happened',
          object: 'Pod/pod-c',
          count: 3,
          lastTimestamp: '2026-01-01T00:00:03.000Z',
        },
      ]);
      assert.equal((await k8s.listRecentEvents({ namespace: eventsNs })).length, 3);
    });

    test('readPodLogs reads current and previous logs (kwok Logs files), tail honoured', async () => {
      await createDeployment(kc, ns, 'logs', { replicas: 1 });
      await settled(env, ns, 'logs');
      const [pod] = await podsOf(kc, ns, 'logs');
      const podName = pod!.metadata!.name!;
      await serveKwokLogs(
        kc,
        { namespace: ns, pod: podName, dir: tmpdir() },
        {
          current: criLog(['started']) + criLog(['heap at 91%'], 'stderr'),
          previous: criLog(['java.lang.OutOfMemoryError']),
        },
      );
      let current = '';
      await waitUntil('kwok to pick up the Logs object', async () => {
        current = await k8s.readPodLogs({ namespace: ns, pod: podName });
        return current.length > 0;
      });
      assert.equal(current, 'started\nheap at 91%\n');
      assert.equal(
        await k8s.readPodLogs({ namespace: ns, pod: podName, previous: true }),
        'java.lang.OutOfMemoryError\n',
      );
      assert.equal(await k8s.readPodLogs({ namespace: ns, pod: podName, tailLines: 1 }), 'heap at 91%\n');
      await rejectsWith(
        k8s.readPodLogs({ namespace: ns, pod: 'no-such-pod' }),
        ErrorType.TARGET_NOT_FOUND,
        /pods\/log "no-such-pod" in namespace/,
      );
    });
  });

  describe('exec', () => {
    let podName: string;

    before(async () => {
      await createDeployment(kc, ns, 'exec', { replicas: 1 });
      await settled(env, ns, 'exec');
      podName = (await podsOf(kc, ns, 'exec'))[0]!.metadata!.name!;
    });

    test('waits for the command to end and returns its exit code and both streams', async () => {
      const started = Date.now();
      const result = await k8s.execInPod({
        namespace: ns,
        pod: podName,
        command: ['sh', '-c', 'echo out; echo err >&2; sleep 1; echo after-sleep'],
      });
      assert.ok(Date.now() - started >= 1000, 'returned before the command ended');
      assert.deepEqual(result, { exitCode: 0, stdout: 'out\nafter-sleep\n', stderr: 'err\n', truncated: false });
    });

    test('caps the output', async () => {
      const result = await k8s.execInPod({
        namespace: ns,
        pod: podName,
        command: ['sh', '-c', 'head -c 5000 /dev/zero | tr "\\0" x'],
        maxOutputBytes: 100,
      });
      assert.equal(result.exitCode, 0);
      assert.equal(result.stdout, 'x'.repeat(100));
      assert.equal(result.truncated, true);
    });

    test('a command that outlives its deadline fails EXEC_TIMED_OUT', async () => {
      await rejectsWith(
        k8s.execInPod({ namespace: ns, pod: podName, command: ['sleep', '5'], timeoutSeconds: 1 }),
        ErrorType.EXEC_TIMED_OUT,
        /still running after 1s/,
      );
    });

    test('a failing command: kwok reports no exit code, so the failure is surfaced, not a fake 0', async () => {
      // A kubelet answers NonZeroExitCode with the code (see the execExitCode test); kwok's local
      // exec wraps the error and reports InternalError, as `kubectl exec` shows too (exit 1).
      await assert.rejects(
        k8s.execInPod({ namespace: ns, pod: podName, command: ['sh', '-c', 'exit 3'] }),
        (err: unknown) => {
          assert.ok(err instanceof Error && !(err instanceof ApplicationFailure), 'should stay retryable');
          assert.match(err.message, /exit status 3/);
          return true;
        },
      );
    });

    test('execExitCode reads a kubelet NonZeroExitCode status', () => {
      assert.equal(execExitCode({ status: 'Success' }), 0);
      assert.equal(
        execExitCode({
          status: 'Failure',
          reason: 'NonZeroExitCode',
          message: 'command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3',
          details: { causes: [{ reason: 'ExitCode', message: '3' }] },
        }),
        3,
      );
      assert.equal(execExitCode({ status: 'Failure', reason: 'InternalError', message: 'boom' }), undefined);
    });

    test('exec into a missing pod is TARGET_NOT_FOUND; into a pod that is not running, INVALID_INPUT', async () => {
      await rejectsWith(
        k8s.execInPod({ namespace: ns, pod: 'no-such-pod', command: ['true'] }),
        ErrorType.TARGET_NOT_FOUND,
        /pods "no-such-pod"/,
      );
      await createDeployment(kc, ns, 'unschedulable', { replicas: 1, nodeSelector: { 'firebreak.dev/none': 'x' } });
      let pending = '';
      await waitUntil('a pending pod', async () => {
        pending = (await podsOf(kc, ns, 'unschedulable'))[0]?.metadata?.name ?? '';
        return pending !== '';
      });
      await rejectsWith(
        k8s.execInPod({ namespace: ns, pod: pending, command: ['true'] }),
        ErrorType.INVALID_INPUT,
        /Pending, not Running/,
      );
    });
  });

  describe('remediations', () => {
    test('rolloutRestart restarts once per incident, reports the first restart on retry, and rolls the pods', async () => {
      await createDeployment(kc, ns, 'restart', { replicas: 2 });
      await settled(env, ns, 'restart');
      const before = new Set((await podsOf(kc, ns, 'restart')).map((p) => p.metadata?.name));
      const first = await k8s.rolloutRestart({ namespace: ns, deployment: 'restart', incidentId: 'inc-restart-1' });
      assert.equal(first.alreadyApplied, false);
      assert.match(first.restartedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      const retry = await k8s.rolloutRestart({ namespace: ns, deployment: 'restart', incidentId: 'inc-restart-1' });
      assert.deepEqual(retry, { ...first, alreadyApplied: true });
      const stored = await rawDeployment(env, ns, 'restart');
      assert.equal(stored.spec.template.metadata.annotations?.[RESTARTED_AT_ANNOTATION], first.restartedAt);
      assert.equal(stored.metadata.generation, first.generation, 'the retry must not patch again');
      assert.deepEqual(markers(stored.metadata.annotations), [markerKey('inc-restart-1', 'restart')]);
      await settled(env, ns, 'restart');
      await waitUntil('old pods gone', async () => {
        const now = await podsOf(kc, ns, 'restart');
        return now.length === 2 && now.every((p) => !before.has(p.metadata?.name));
      });
      const other = await k8s.rolloutRestart({ namespace: ns, deployment: 'restart', incidentId: 'inc-restart-2' });
      assert.equal(other.alreadyApplied, false);
      assert.equal(other.generation, first.generation + 1);
    });

    test('rolloutRestart dry run changes nothing and leaves no marker', async () => {
      await createDeployment(kc, ns, 'restart-dry', { replicas: 1 });
      const before = await rawDeployment(env, ns, 'restart-dry');
      const result = await k8s.rolloutRestart({
        namespace: ns,
        deployment: 'restart-dry',
        incidentId: 'inc-dry',
        dryRun: true,
      });
      assert.equal(result.alreadyApplied, false);
      assert.equal(result.generation, before.metadata.generation + 1, 'the server computed the change');
      const after = await rawDeployment(env, ns, 'restart-dry');
      assert.equal(after.metadata.generation, before.metadata.generation);
      assert.equal(after.spec.template.metadata.annotations?.[RESTARTED_AT_ANNOTATION], undefined);
      assert.deepEqual(markers(after.metadata.annotations), []);
    });

    test('rolloutRestart refuses a paused deployment', async () => {
      await createDeployment(kc, ns, 'paused', { replicas: 1 });
      await kc
        .makeApiClient(AppsV1Api)
        .patchNamespacedDeployment(
          { name: 'paused', namespace: ns, body: { spec: { paused: true } } },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        );
      await rejectsWith(
        k8s.rolloutRestart({ namespace: ns, deployment: 'paused', incidentId: 'inc-paused' }),
        ErrorType.INVALID_INPUT,
        /paused/,
      );
    });

    test('setDeploymentEnv returns previous values, is idempotent under retry, and restores', async () => {
      await createDeployment(kc, ns, 'env', {
        replicas: 1,
        env: [
          { name: 'OTEL_TRACES_SAMPLER_ARG', value: '1.0' },
          { name: 'KEEP', value: 'yes' },
        ],
      });
      const target = { namespace: ns, deployment: 'env' };
      const change = { OTEL_TRACES_SAMPLER_ARG: '0.001', ENABLE_CIRCUIT_BREAKER: 'true' };
      const first = await k8s.setDeploymentEnv({ ...target, incidentId: 'inc-env', env: change });
      assert.deepEqual(first, {
        container: 'app',
        previous: { OTEL_TRACES_SAMPLER_ARG: '1.0', ENABLE_CIRCUIT_BREAKER: null },
        applied: change,
        alreadyApplied: false,
      });
      const envOf = async () => (await rawDeployment(env, ns, 'env')).spec.template.spec.containers[0]?.env;
      assert.deepEqual(await envOf(), [
        { name: 'OTEL_TRACES_SAMPLER_ARG', value: '0.001' },
        { name: 'KEEP', value: 'yes' },
        { name: 'ENABLE_CIRCUIT_BREAKER', value: 'true' },
      ]);
      const generation = (await rawDeployment(env, ns, 'env')).metadata.generation;
      // A retry after a crash reports what the first attempt replaced, not its own values.
      const retry = await k8s.setDeploymentEnv({ ...target, incidentId: 'inc-env', env: change });
      assert.deepEqual(retry, { ...first, alreadyApplied: true });
      assert.equal((await rawDeployment(env, ns, 'env')).metadata.generation, generation);

      const restore = await k8s.setDeploymentEnv({ ...target, incidentId: 'inc-env:restore', env: first.previous });
      assert.deepEqual(restore.previous, change);
      assert.equal(restore.alreadyApplied, false);
      assert.deepEqual(await envOf(), [
        { name: 'OTEL_TRACES_SAMPLER_ARG', value: '1.0' },
        { name: 'KEEP', value: 'yes' },
      ]);
      // The original call retried after the restore still does nothing.
      assert.equal(
        (await k8s.setDeploymentEnv({ ...target, incidentId: 'inc-env', env: change })).alreadyApplied,
        true,
      );
      assert.deepEqual(await envOf(), [
        { name: 'OTEL_TRACES_SAMPLER_ARG', value: '1.0' },
        { name: 'KEEP', value: 'yes' },
      ]);
    });

    test('racing attempts: one change per incident, and no lost update between incidents', async () => {
      await createDeployment(kc, ns, 'race', { replicas: 1, env: [{ name: 'BASE', value: '0' }] });
      const target = { namespace: ns, deployment: 'race' };
      // Two attempts of the same activity at once (a retry racing a slow first attempt).
      const sameIncident = await Promise.all(
        [1, 2, 3].map(() => k8s.setDeploymentEnv({ ...target, incidentId: 'inc-race', env: { BASE: '1' } })),
      );
      assert.equal(sameIncident.filter((r) => !r.alreadyApplied).length, 1, JSON.stringify(sameIncident));
      for (const result of sameIncident) assert.deepEqual(result.previous, { BASE: '0' });
      // Different incidents at once: each lands, each records what it really replaced.
      const [a, b] = await Promise.all([
        k8s.setDeploymentEnv({ ...target, incidentId: 'inc-race-a', env: { A: 'a' } }),
        k8s.setDeploymentEnv({ ...target, incidentId: 'inc-race-b', env: { B: 'b' } }),
      ]);
      assert.deepEqual([a.previous, b.previous], [{ A: null }, { B: null }]);
      const names = (await rawDeployment(env, ns, 'race')).spec.template.spec.containers[0]?.env?.map((e) => e.name);
      assert.deepEqual(names?.sort(), ['A', 'B', 'BASE']);
    });

    test('setDeploymentEnv: dry run, no-op, multi-container choice and valueFrom refusal', async () => {
      await createDeployment(kc, ns, 'env2', {
        replicas: 1,
        containers: ['app', 'sidecar'],
        env: [{ name: 'A', value: '1' }],
      });
      const target = { namespace: ns, deployment: 'env2' };
      await rejectsWith(
        k8s.setDeploymentEnv({ ...target, incidentId: 'inc-env2', env: { A: '2' } }),
        ErrorType.INVALID_INPUT,
        /2 containers \(app, sidecar\); name one/,
      );
      await rejectsWith(
        k8s.setDeploymentEnv({ ...target, incidentId: 'inc-env2', container: 'nope', env: { A: '2' } }),
        ErrorType.INVALID_INPUT,
        /container "nope" not found/,
      );
      const before = await rawDeployment(env, ns, 'env2');
      const dry = await k8s.setDeploymentEnv({
        ...target,
        incidentId: 'inc-env2',
        container: 'sidecar',
        env: { A: '2' },
        dryRun: true,
      });
      assert.deepEqual(dry.previous, { A: '1' });
      const unchanged = await rawDeployment(env, ns, 'env2');
      assert.equal(unchanged.metadata.generation, before.metadata.generation);
      assert.deepEqual(markers(unchanged.metadata.annotations), []);
      const same = await k8s.setDeploymentEnv({ ...target, incidentId: 'inc-env2', container: 'app', env: { A: '1' } });
      assert.deepEqual(same, { container: 'app', previous: { A: '1' }, applied: { A: '1' }, alreadyApplied: false });
      assert.equal((await rawDeployment(env, ns, 'env2')).metadata.generation, before.metadata.generation);

      await kc.makeApiClient(AppsV1Api).patchNamespacedDeployment(
        {
          name: 'env2',
          namespace: ns,
          body: {
            spec: {
              template: {
                spec: {
                  containers: [
                    { name: 'app', env: [{ name: 'SECRET', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }] },
                  ],
                },
              },
            },
          },
        },
        setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
      );
      await rejectsWith(
        k8s.setDeploymentEnv({ ...target, incidentId: 'inc-env2', container: 'app', env: { SECRET: 'x' } }),
        ErrorType.INVALID_INPUT,
        /valueFrom/,
      );
    });

    test('readDeploymentSettings reads what the mitigations change, as stored, and changes nothing', async () => {
      await createDeployment(kc, ns, 'settings', {
        replicas: 2,
        containers: ['app', 'sidecar'],
        env: [{ name: 'A', value: '1' }],
      });
      const target = { namespace: ns, deployment: 'settings' };
      await k8s.setContainerResources({
        ...target,
        incidentId: 'inc-settings',
        container: 'app',
        limits: { memory: '2048Mi' },
      });
      await kc.makeApiClient(AppsV1Api).patchNamespacedDeployment(
        {
          name: 'settings',
          namespace: ns,
          body: {
            spec: {
              template: {
                spec: {
                  containers: [
                    { name: 'app', env: [{ name: 'SECRET', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }] },
                  ],
                },
              },
            },
          },
        },
        setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
      );
      const before = await rawDeployment(env, ns, 'settings');

      const app = await k8s.readDeploymentSettings({ ...target, container: 'app' });
      assert.deepEqual(app, {
        replicas: 2,
        containers: ['app', 'sidecar'],
        container: {
          name: 'app',
          env: { A: '1' },
          envFromReference: ['SECRET'],
          limits: { memory: '2Gi' },
          requests: {},
        },
      });
      // Several containers and none named: the replicas are still an answer; the container is not guessed.
      assert.deepEqual(await k8s.readDeploymentSettings(target), { replicas: 2, containers: ['app', 'sidecar'] });
      await rejectsWith(
        k8s.readDeploymentSettings({ ...target, container: 'nope' }),
        ErrorType.INVALID_INPUT,
        /container "nope" not found/,
      );
      await rejectsWith(
        k8s.readDeploymentSettings({ namespace: ns, deployment: 'no-such-deployment' }),
        ErrorType.TARGET_NOT_FOUND,
      );
      // Controllers keep writing the status (resourceVersion moves); the spec and the markers must not.
      const after = await rawDeployment(env, ns, 'settings');
      assert.equal(after.metadata.generation, before.metadata.generation, 'a read changes nothing');
      assert.deepEqual(markers(after.metadata.annotations), markers(before.metadata.annotations));
    });

    test('setContainerResources returns previous values as stored, retries and restores', async () => {
      await createDeployment(kc, ns, 'res', { replicas: 1 });
      const target = { namespace: ns, deployment: 'res' };
      const first = await k8s.setContainerResources({
        ...target,
        incidentId: 'inc-res',
        limits: { memory: '2048Mi' },
        requests: { memory: '1Gi' },
      });
      assert.deepEqual(first, {
        container: 'app',
        previous: { limits: { memory: null }, requests: { memory: null } },
        applied: { limits: { memory: '2Gi' }, requests: { memory: '1Gi' } },
        alreadyApplied: false,
      });
      const retry = await k8s.setContainerResources({
        ...target,
        incidentId: 'inc-res',
        limits: { memory: '2048Mi' },
        requests: { memory: '1Gi' },
      });
      assert.deepEqual(retry, { ...first, alreadyApplied: true });
      const raise = await k8s.setContainerResources({ ...target, incidentId: 'inc-res-2', limits: { memory: '4Gi' } });
      assert.deepEqual(raise.previous, { limits: { memory: '2Gi' }, requests: {} });

      const restore = await k8s.setContainerResources({
        ...target,
        incidentId: 'inc-res:restore',
        limits: first.previous.limits,
        requests: first.previous.requests,
      });
      assert.equal(restore.alreadyApplied, false);
      const resources = (await rawDeployment(env, ns, 'res')).spec.template.spec.containers[0]?.resources;
      assert.deepEqual(resources ?? {}, {});
    });

    test('setContainerResources: requests above limits are rejected by the server as INVALID_INPUT', async () => {
      await createDeployment(kc, ns, 'res-bad', { replicas: 1 });
      await rejectsWith(
        k8s.setContainerResources({
          namespace: ns,
          deployment: 'res-bad',
          incidentId: 'inc-res-bad',
          limits: { memory: '256Mi' },
          requests: { memory: '1Gi' },
        }),
        ErrorType.INVALID_INPUT,
        /must be less than or equal to memory limit/,
      );
    });

    test('scaleDeployment scales through the scale subresource, once per incident, with dry run and restore', async () => {
      await createDeployment(kc, ns, 'scale', { replicas: 1 });
      const target = { namespace: ns, deployment: 'scale' };
      const dry = await k8s.scaleDeployment({ ...target, incidentId: 'inc-scale', replicas: 4, dryRun: true });
      assert.deepEqual(dry, { previousReplicas: 1, replicas: 4, alreadyApplied: false });
      assert.equal((await rawDeployment(env, ns, 'scale')).spec.replicas, 1);

      const first = await k8s.scaleDeployment({ ...target, incidentId: 'inc-scale', replicas: 4 });
      assert.deepEqual(first, { previousReplicas: 1, replicas: 4, alreadyApplied: false });
      await settled(env, ns, 'scale');
      assert.equal((await podsOf(kc, ns, 'scale')).length, 4);
      const retry = await k8s.scaleDeployment({ ...target, incidentId: 'inc-scale', replicas: 4 });
      assert.deepEqual(retry, { ...first, alreadyApplied: true });

      // Someone scaled by hand after us: a retry of our step must not fight them.
      await kubectl(env, ['-n', ns, 'scale', 'deployment/scale', '--replicas=6']);
      assert.equal(
        (await k8s.scaleDeployment({ ...target, incidentId: 'inc-scale', replicas: 4 })).alreadyApplied,
        true,
      );
      assert.equal((await rawDeployment(env, ns, 'scale')).spec.replicas, 6);

      const restore = await k8s.scaleDeployment({ ...target, incidentId: 'inc-scale:restore', replicas: 1 });
      assert.deepEqual(restore, { previousReplicas: 6, replicas: 1, alreadyApplied: false });
      assert.equal((await rawDeployment(env, ns, 'scale')).spec.replicas, 1);
    });

    test('scaleDeployment finishes a scale a crashed attempt left half done', async () => {
      await createDeployment(kc, ns, 'scale-half', { replicas: 1 });
      const key = markerKey('inc-half', 'scale-3');
      // The state a crash between "marker written" and "scale applied" leaves behind.
      await kc.makeApiClient(AppsV1Api).patchNamespacedDeployment(
        {
          name: 'scale-half',
          namespace: ns,
          body: {
            metadata: { annotations: { [key]: JSON.stringify({ previousReplicas: 1, replicas: 3, done: false }) } },
          },
        },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
      const result = await k8s.scaleDeployment({
        namespace: ns,
        deployment: 'scale-half',
        incidentId: 'inc-half',
        replicas: 3,
      });
      assert.deepEqual(result, { previousReplicas: 1, replicas: 3, alreadyApplied: true });
      const stored = await rawDeployment(env, ns, 'scale-half');
      assert.equal(stored.spec.replicas, 3);
      assert.equal(JSON.parse(stored.metadata.annotations?.[key] ?? '{}').done, true);
    });

    test('rolloutHistory and rolloutUndo (to a revision, to the previous one, retry, dry run, errors)', async () => {
      await createDeployment(kc, ns, 'undo', { replicas: 1, image: 'registry.example/app:v1' });
      await settled(env, ns, 'undo');
      for (const tag of ['v2', 'v3']) {
        await kubectl(env, ['-n', ns, 'set', 'image', 'deployment/undo', `app=registry.example/app:${tag}`]);
        await settled(env, ns, 'undo');
      }
      const target = { namespace: ns, deployment: 'undo' };
      const history = await k8s.rolloutHistory(target);
      assert.deepEqual(
        history.map((r) => [r.revision, r.images]),
        [
          [1, ['registry.example/app:v1']],
          [2, ['registry.example/app:v2']],
          [3, ['registry.example/app:v3']],
        ],
      );

      const dry = await k8s.rolloutUndo({ ...target, incidentId: 'inc-undo', toRevision: 1, dryRun: true });
      assert.deepEqual(dry, { fromRevision: 3, toRevision: 1, alreadyApplied: false });
      assert.equal((await k8s.rolloutHistory(target)).length, 3);

      const undo = await k8s.rolloutUndo({ ...target, incidentId: 'inc-undo', toRevision: 1 });
      assert.deepEqual(undo, { fromRevision: 3, toRevision: 1, alreadyApplied: false });
      await settled(env, ns, 'undo');
      // A retry must not undo again (revision 1 is now revision 4; "1" no longer exists).
      assert.deepEqual(await k8s.rolloutUndo({ ...target, incidentId: 'inc-undo', toRevision: 1 }), {
        ...undo,
        alreadyApplied: true,
      });
      assert.deepEqual(
        (await k8s.rolloutHistory(target)).map((r) => [r.revision, r.images[0]]),
        [
          [2, 'registry.example/app:v2'],
          [3, 'registry.example/app:v3'],
          [4, 'registry.example/app:v1'],
        ],
      );

      const previous = await k8s.rolloutUndo({ ...target, incidentId: 'inc-undo-prev' });
      assert.deepEqual(previous, { fromRevision: 4, toRevision: 3, alreadyApplied: false });
      await settled(env, ns, 'undo');
      const stored = await rawDeployment(env, ns, 'undo');
      assert.deepEqual(
        markers(stored.metadata.annotations).sort(),
        [markerKey('inc-undo', 'undo-1'), markerKey('inc-undo-prev', 'undo-previous')].sort(),
      );

      await rejectsWith(
        k8s.rolloutUndo({ ...target, incidentId: 'inc-undo-missing', toRevision: 42 }),
        ErrorType.REVISION_NOT_FOUND,
        /revision 42/,
      );
      const same = await k8s.rolloutUndo({ ...target, incidentId: 'inc-undo-same', toRevision: 5 });
      assert.equal(same.alreadyApplied, true);
      assert.match(same.skipped ?? '', /already matches revision 5/);

      await createDeployment(kc, ns, 'undo-fresh', { replicas: 1 });
      await settled(env, ns, 'undo-fresh');
      await rejectsWith(
        k8s.rolloutUndo({ namespace: ns, deployment: 'undo-fresh', incidentId: 'inc-fresh' }),
        ErrorType.REVISION_NOT_FOUND,
        /no rollout history/,
      );
    });

    test('every activity names the missing object: TARGET_NOT_FOUND, non-retryable', async () => {
      const missing = { namespace: ns, deployment: 'does-not-exist' };
      const expect = /deployments\.apps "does-not-exist" in namespace k8s-act-\w+ not found/;
      await rejectsWith(k8s.listDeploymentPods(missing), ErrorType.TARGET_NOT_FOUND, expect);
      await rejectsWith(k8s.findOomKills(missing), ErrorType.TARGET_NOT_FOUND, expect);
      await rejectsWith(k8s.rolloutHistory(missing), ErrorType.TARGET_NOT_FOUND, expect);
      await rejectsWith(k8s.rolloutRestart({ ...missing, incidentId: 'x' }), ErrorType.TARGET_NOT_FOUND, expect);
      await rejectsWith(k8s.rolloutUndo({ ...missing, incidentId: 'x' }), ErrorType.TARGET_NOT_FOUND, expect);
      await rejectsWith(
        k8s.scaleDeployment({ ...missing, incidentId: 'x', replicas: 2 }),
        ErrorType.TARGET_NOT_FOUND,
        expect,
      );
      await rejectsWith(
        k8s.setDeploymentEnv({ ...missing, incidentId: 'x', env: { A: '1' } }),
        ErrorType.TARGET_NOT_FOUND,
        expect,
      );
      await rejectsWith(
        k8s.setContainerResources({ ...missing, incidentId: 'x', limits: { cpu: '1' } }),
        ErrorType.TARGET_NOT_FOUND,
        expect,
      );
      await rejectsWith(k8s.waitForRollout({ ...missing, timeoutSeconds: 5 }), ErrorType.TARGET_NOT_FOUND, expect);
    });

    test('conflicts, throttling and 5xx stay retryable; bad requests do not', () => {
      const access = { verb: 'patch', resource: 'deployments.apps', namespace: 'shop', name: 'checkout' };
      const status = (code: number, reason: string) =>
        new ApiException(
          code,
          'x',
          JSON.stringify({ kind: 'Status', status: 'Failure', reason, message: `${reason} says no`, code }),
          {},
        );
      const conflict = toActivityError(status(409, 'Conflict'), access);
      assert.ok(conflict instanceof ConflictError, 'a conflict is re-read and retried');
      assert.match(
        conflict.message,
        /patch deployments\.apps "checkout" in namespace shop conflicted: Conflict says no/,
      );
      for (const code of [429, 500, 503]) {
        const err = toActivityError(status(code, 'ServiceUnavailable'), access);
        assert.ok(!(err instanceof ApplicationFailure), `${code} must be retryable`);
        assert.match(err.message, new RegExp(`HTTP ${code}: ServiceUnavailable says no`));
      }
      const bad = toActivityError(status(422, 'Invalid'), access);
      assert.ok(bad instanceof ApplicationFailure && bad.nonRetryable && bad.type === ErrorType.INVALID_INPUT);
      const network = toActivityError(new Error('connect ECONNREFUSED 127.0.0.1:6443'), access);
      assert.ok(!(network instanceof ApplicationFailure));
    });
  });

  describe('waitForRollout', () => {
    test('completes, heartbeating the kubectl verdict', async () => {
      await createDeployment(kc, ns, 'wait-ok', { replicas: 3 });
      const activityEnv = new MockActivityEnvironment(undefined, quiet);
      const beats: unknown[] = [];
      activityEnv.on('heartbeat', (d: unknown) => beats.push(d));
      const status = await inActivity(activityEnv, k8s.waitForRollout, {
        namespace: ns,
        deployment: 'wait-ok',
        timeoutSeconds: 60,
      });
      assert.deepEqual(status, {
        complete: true,
        message: 'deployment "wait-ok" successfully rolled out',
        updatedReplicas: 3,
        availableReplicas: 3,
        replicas: 3,
      });
      assert.ok(beats.length >= 1);
    });

    test('ProgressDeadlineExceeded is ROLLOUT_DEADLINE_EXCEEDED; its own deadline is ROLLOUT_TIMED_OUT', async () => {
      await createDeployment(kc, ns, 'wait-stuck', {
        replicas: 1,
        nodeSelector: { 'firebreak.dev/none': 'x' },
        progressDeadlineSeconds: 2,
      });
      await createDeployment(kc, ns, 'wait-slow', { replicas: 1, nodeSelector: { 'firebreak.dev/none': 'x' } });
      const stuck = await rejectsWith(
        inActivity(new MockActivityEnvironment(undefined, quiet), k8s.waitForRollout, {
          namespace: ns,
          deployment: 'wait-stuck',
          timeoutSeconds: 60,
        }),
        ErrorType.ROLLOUT_DEADLINE_EXCEEDED,
        /^deployment "wait-stuck" exceeded its progress deadline$/,
      );
      assert.equal((stuck.details?.[0] as { complete: boolean }).complete, false);
      const started = Date.now();
      await rejectsWith(
        inActivity(new MockActivityEnvironment(undefined, quiet), k8s.waitForRollout, {
          namespace: ns,
          deployment: 'wait-slow',
          timeoutSeconds: 2,
        }),
        ErrorType.ROLLOUT_TIMED_OUT,
        /0 of 1 updated replicas are available/,
      );
      assert.ok(Date.now() - started < 5000);
    });

    test("a retry keeps the first attempt's deadline (heartbeat details)", async () => {
      await createDeployment(kc, ns, 'wait-retry', { replicas: 1, nodeSelector: { 'firebreak.dev/none': 'x' } });
      const activityEnv = new MockActivityEnvironment({ heartbeatDetails: { deadline: Date.now() + 1000 } }, quiet);
      const started = Date.now();
      await rejectsWith(
        inActivity(activityEnv, k8s.waitForRollout, { namespace: ns, deployment: 'wait-retry', timeoutSeconds: 600 }),
        ErrorType.ROLLOUT_TIMED_OUT,
      );
      assert.ok(Date.now() - started < 4000, 'used a fresh 600 s deadline instead of the recorded one');
    });
  });

  describe('least privilege (the generated namespace-scoped RBAC of `firebreak rbac`)', () => {
    let worker: KubernetesActivities;
    let confined: KubernetesActivities;
    let workNs: string;
    let otherNs: string;

    before(async () => {
      const core = kc.makeApiClient(CoreV1Api);
      workNs = await createNamespace(kc, 'k8s-rbac');
      otherNs = await createNamespace(kc, 'k8s-rbac-other');
      namespaces.push(workNs, otherNs);
      // Exactly what `firebreak rbac --namespaces <workNs> --heap-profile <workNs>` prints.
      await applyGeneratedRbac(kc, { namespaces: [workNs], heapProfileNamespaces: [workNs] });
      const token = (
        await core.createNamespacedServiceAccountToken({
          name: 'firebreak',
          namespace: 'firebreak',
          body: { spec: { audiences: [], expirationSeconds: 3600 } },
        })
      ).status!.token;
      worker = createKubernetesActivities(kubeConfigWithToken(kc, token));
      // The same identity, seen from a namespace it was not given.
      confined = worker;
      await createDeployment(kc, workNs, 'svc', { replicas: 1 });
      await createDeployment(kc, otherNs, 'svc', { replicas: 1 });
      await settled(env, workNs, 'svc');
      await settled(env, otherNs, 'svc');
    });

    test('every activity works with a token bound to exactly the shipped role', async () => {
      const target = { namespace: workNs, deployment: 'svc' };
      assert.equal((await worker.listDeploymentPods(target)).length, 1);
      assert.ok(Array.isArray(await worker.listRecentEvents({ namespace: workNs })));
      assert.deepEqual(await worker.findOomKills(target), []);
      const restart = await worker.rolloutRestart({ ...target, incidentId: 'inc-rbac' });
      assert.equal(restart.alreadyApplied, false);
      const status = await inActivity(new MockActivityEnvironment(undefined, quiet), worker.waitForRollout, {
        ...target,
        timeoutSeconds: 60,
      });
      assert.equal(status.complete, true);
      assert.equal((await worker.rolloutHistory(target)).length, 2);
      assert.deepEqual(await worker.rolloutUndo({ ...target, incidentId: 'inc-rbac' }), {
        fromRevision: 2,
        toRevision: 1,
        alreadyApplied: false,
      });
      assert.equal(
        (await worker.scaleDeployment({ ...target, incidentId: 'inc-rbac', replicas: 2 })).previousReplicas,
        1,
      );
      assert.deepEqual(
        (await worker.setDeploymentEnv({ ...target, incidentId: 'inc-rbac', env: { A: '1' } })).previous,
        {
          A: null,
        },
      );
      assert.deepEqual(
        (await worker.setContainerResources({ ...target, incidentId: 'inc-rbac', limits: { memory: '1Gi' } })).applied,
        { limits: { memory: '1Gi' }, requests: {} },
      );
      assert.equal((await worker.readDeploymentSettings(target)).container?.limits.memory, '1Gi');
      await settled(env, workNs, 'svc');
      const pod = (await podsOf(kc, workNs, 'svc'))[0]!.metadata!.name!;
      assert.equal((await worker.execInPod({ namespace: workNs, pod, command: ['echo', 'heap'] })).stdout, 'heap\n');
      await serveKwokLogs(
        kc,
        { namespace: workNs, pod, dir: tmpdir() },
        { current: criLog(['serving']), previous: '' },
      );
      let log = '';
      await waitUntil('kwok to pick up the Logs object', async () => {
        log = await worker.readPodLogs({ namespace: workNs, pod });
        return log !== '';
      });
      assert.equal(log, 'serving\n');
    });

    test('outside the role: FORBIDDEN naming the verb and the resource', async () => {
      const outside = { namespace: otherNs, deployment: 'svc' };
      // Not even a read: the ingress's cluster-wide reads belong to its own service account.
      await rejectsWith(
        confined.rolloutRestart({ ...outside, incidentId: 'inc-rbac-out' }),
        ErrorType.FORBIDDEN,
        new RegExp(
          `verb "get" on resource "deployments.apps" in namespace "${otherNs}".*cannot get resource "deployments"`,
        ),
      );
      await rejectsWith(
        confined.readDeploymentSettings(outside),
        ErrorType.FORBIDDEN,
        new RegExp(`verb "get" on resource "deployments.apps" in namespace "${otherNs}"`),
      );
      await rejectsWith(
        confined.listDeploymentPods(outside),
        ErrorType.FORBIDDEN,
        new RegExp(`verb "(get|list)" on resource "(deployments.apps|pods)" in namespace "${otherNs}"`),
      );
      const pod = (await podsOf(kc, otherNs, 'svc'))[0]!.metadata!.name!;
      await rejectsWith(
        confined.execInPod({ namespace: otherNs, pod, command: ['true'] }),
        ErrorType.FORBIDDEN,
        /on resource "pods(\/exec)?"/,
      );
      await rejectsWith(
        confined.listRecentEvents({ namespace: otherNs }),
        ErrorType.FORBIDDEN,
        /verb "list" on resource "events"/,
      );
      // Inside its namespace the confined identity works.
      assert.equal((await confined.listDeploymentPods({ namespace: workNs, deployment: 'svc' })).length >= 1, true);
    });

    test('each verb the role grants is needed: without pods/exec, exec is FORBIDDEN over WebSocket too', async () => {
      // The shipped role minus its pods/exec rule, for an identity of its own.
      const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
      const core = kc.makeApiClient(CoreV1Api);
      const shipped = await rbac.readNamespacedRole({ name: 'firebreak-worker', namespace: workNs });
      const name = `firebreak-no-exec`;
      await rbac.createNamespacedRole({
        namespace: workNs,
        body: {
          metadata: { name },
          rules: (shipped.rules ?? []).filter((rule) => !(rule.resources ?? []).includes('pods/exec')),
        },
      });
      await core.createNamespacedServiceAccount({ namespace: workNs, body: { metadata: { name: 'no-exec' } } });
      await rbac.createNamespacedRoleBinding({
        namespace: workNs,
        body: {
          metadata: { name: 'no-exec' },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
          subjects: [{ kind: 'ServiceAccount', name: 'no-exec', namespace: workNs }],
        },
      });
      try {
        const token = (
          await core.createNamespacedServiceAccountToken({
            name: 'no-exec',
            namespace: workNs,
            body: { spec: { audiences: [], expirationSeconds: 600 } },
          })
        ).status!.token;
        const noExec = createKubernetesActivities(kubeConfigWithToken(kc, token));
        const pod = (await podsOf(kc, workNs, 'svc'))[0]!.metadata!.name!;
        await rejectsWith(
          noExec.execInPod({ namespace: workNs, pod, command: ['true'] }),
          ErrorType.FORBIDDEN,
          /verb "create" on resource "pods\/exec".*needs both "get" and "create" on pods\/exec/,
        );
        assert.equal((await noExec.listDeploymentPods({ namespace: workNs, deployment: 'svc' })).length >= 1, true);
      } finally {
        await rbac.deleteNamespacedRole({ name, namespace: workNs });
      }
    });

    test('the role grants nothing beyond what the activities use', async () => {
      const rules =
        (
          await kc
            .makeApiClient(RbacAuthorizationV1Api)
            .readNamespacedRole({ name: 'firebreak-worker', namespace: workNs })
        ).rules ?? [];
      const granted = rules
        .flatMap((r) =>
          (r.resources ?? []).flatMap((res) =>
            r.verbs.map((v) => `${v} ${res}${r.apiGroups?.[0] ? `.${r.apiGroups[0]}` : ''}`),
          ),
        )
        .sort();
      assert.deepEqual(granted, [
        'create pods/exec',
        'get deployments.apps',
        'get deployments/scale.apps',
        'get pods',
        'get pods/exec',
        'get pods/log',
        'list events',
        'list pods',
        'list replicasets.apps',
        'patch deployments.apps',
        'patch deployments/scale.apps',
      ]);
      // And the API server enforces it: no delete, no secrets.
      const review = await kubectl(env, [
        'auth',
        'can-i',
        'delete',
        'deployments',
        '--as=system:serviceaccount:firebreak:firebreak',
        '-n',
        workNs,
      ]);
      assert.equal(review.stdout.trim(), 'no');
      const secrets = await kubectl(env, [
        'auth',
        'can-i',
        'list',
        'secrets',
        '--as=system:serviceaccount:firebreak:firebreak',
        '-n',
        workNs,
      ]);
      assert.equal(secrets.stdout.trim(), 'no');
    });

    test('kubectl auth can-i as the service account: every granted verb yes in the listed namespace, no elsewhere', async () => {
      for (const [verb, resource] of [
        ['patch', 'deployments.apps'],
        ['patch', 'deployments.apps/scale'],
        ['list', 'replicasets.apps'],
        ['list', 'pods'],
        ['create', 'pods/exec'],
        ['list', 'events'],
      ] as const) {
        assert.equal(await canI(env, WORKER_SA, verb, resource, workNs), 'yes', `${verb} ${resource} in ${workNs}`);
        assert.equal(await canI(env, WORKER_SA, verb, resource, otherNs), 'no', `${verb} ${resource} in ${otherNs}`);
      }
    });

    test("outside its namespaces the worker's service account may do nothing at all, not even read", async () => {
      const asked = [
        ['get', 'deployments.apps'],
        ['list', 'deployments.apps'],
        ['watch', 'deployments.apps'],
        ['patch', 'deployments.apps'],
        ['update', 'deployments.apps'],
        ['delete', 'deployments.apps'],
        ['get', 'deployments.apps/scale'],
        ['patch', 'deployments.apps/scale'],
        ['get', 'replicasets.apps'],
        ['list', 'replicasets.apps'],
        ['get', 'pods'],
        ['list', 'pods'],
        ['delete', 'pods'],
        ['get', 'pods/log'],
        ['get', 'pods/exec'],
        ['create', 'pods/exec'],
        ['list', 'events'],
        ['get', 'jobs.batch'],
      ] as const;
      const answers = await Promise.all(asked.map(([verb, resource]) => canI(env, WORKER_SA, verb, resource, otherNs)));
      assert.deepEqual(
        answers.map((answer, i) => `${asked[i]!.join(' ')}: ${answer}`),
        asked.map(([verb, resource]) => `${verb} ${resource}: no`),
      );
      // Every verb on every resource, in one question: nothing but what every account may ask about itself.
      assert.deepEqual(await resourceRules(env, WORKER_SA, otherNs), SELF_REVIEWS);
    });

    test("the ingress's own service account may read the four kinds anywhere, and never change or exec", async () => {
      for (const namespace of [workNs, otherNs]) {
        const rules = await resourceRules(env, INGRESS_SA, namespace);
        assert.deepEqual(
          rules.filter((rule) => !SELF_REVIEWS.includes(rule)),
          ['deployments.apps [get]', 'jobs.batch [get]', 'pods [get]', 'replicasets.apps [get]'],
          namespace,
        );
        for (const [verb, resource, answer] of [
          ['get', 'deployments.apps', 'yes'],
          ['get', 'pods', 'yes'],
          ['list', 'pods', 'no'],
          ['patch', 'deployments.apps', 'no'],
          ['patch', 'deployments.apps/scale', 'no'],
          ['delete', 'pods', 'no'],
          ['create', 'pods/exec', 'no'],
          ['get', 'pods/exec', 'no'],
          ['get', 'pods/log', 'no'],
          ['get', 'secrets', 'no'],
        ] as const) {
          assert.equal(
            await canI(env, INGRESS_SA, verb, resource, namespace),
            answer,
            `${verb} ${resource} in ${namespace}`,
          );
        }
      }
    });
  });
});

const WORKER_SA = 'system:serviceaccount:firebreak:firebreak';
const INGRESS_SA = 'system:serviceaccount:firebreak:firebreak-ingress';
/** What every authenticated account may do whatever its roles: ask about itself (system:basic-user). */
const SELF_REVIEWS = [
  'selfsubjectaccessreviews.authorization.k8s.io [create]',
  'selfsubjectreviews.authentication.k8s.io [create]',
  'selfsubjectrulesreviews.authorization.k8s.io [create]',
];

/** `kubectl auth can-i <verb> <resource> --as=<who> -n <ns>`; a subresource is asked as the API server sees it. */
async function canI(env: KubeTestEnv, who: string, verb: string, resource: string, namespace: string): Promise<string> {
  const [kind, subresource] = resource.split('/');
  const answer = await kubectl(env, [
    'auth',
    'can-i',
    verb,
    kind!,
    ...(subresource ? [`--subresource=${subresource}`] : []),
    `--as=${who}`,
    '-n',
    namespace,
  ]);
  return answer.stdout.trim();
}

/** The resource rules of `kubectl auth can-i --list`: `<resource> [<verbs>]`, sorted (URL-only rows left out). */
async function resourceRules(env: KubeTestEnv, who: string, namespace: string): Promise<string[]> {
  const answer = await kubectl(env, ['auth', 'can-i', '--list', `--as=${who}`, '-n', namespace]);
  assert.equal(answer.code, 0, answer.stderr);
  return answer.stdout
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((cells) => cells.length >= 4 && !cells[0]!.startsWith('['))
    .map((cells) => `${cells[0]} ${cells.slice(3).join(' ')}`)
    .sort();
}

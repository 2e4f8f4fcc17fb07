/**
 * The Helm chart of Firebreak itself (deploy/helm/firebreak): `helm lint`, the rendered RBAC equal
 * to `firebreak rbac`'s for the same namespaces (so the two cannot drift), the pod's security and
 * probes, and the rendering applied server-side to the bed's control plane until its pods run
 * under kwok. helm is built from its Go module by test/helm/build.sh (cached in ~/.cache/firebreak).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { rbacManifests } from '../runbooks/rbac';
import { runBuildScript } from './bed/build';
import { kubeTestEnv, SKIP_WITHOUT_KUBE } from './kube/fixtures';

const execFileAsync = promisify(execFile);
const CHART = path.resolve('deploy/helm/firebreak');

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let helm: string;
const work = await mkdtemp(path.join(tmpdir(), 'firebreak-helm-'));
after(() => rm(work, { recursive: true, force: true }));

before(async () => {
  // The bed's `helm` component built it; a run without that component builds it here.
  const fromBed = process.env.FIREBREAK_TEST_HELM;
  helm = fromBed
    ? fromBed
    : path.join(
        await runBuildScript('test/helm/build.sh', 'helm', (line) => process.stderr.write(`${line}\n`)),
        'helm',
      );
});

async function run(file: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(file, args, {
      maxBuffer: 16 * 2 ** 20,
      env: { ...process.env, HELM_CACHE_HOME: work, HELM_CONFIG_HOME: work, HELM_DATA_HOME: work },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** `helm template` with the values a production install sets. */
async function render(release: string, namespace: string, sets: string[]): Promise<{ text: string; docs: Doc[] }> {
  const args = ['template', release, CHART, '--namespace', namespace, ...sets.flatMap((s) => ['--set', s])];
  const result = await run(helm, args);
  assert.equal(result.code, 0, result.stderr);
  const docs = parseAllDocuments(result.stdout)
    .map((d) => d.toJSON() as Doc | null)
    .filter((d): d is Doc => d !== null);
  return { text: result.stdout, docs };
}

const BASE = ['temporal.address=temporal-frontend.temporal.svc:7233', 'existingSecret=firebreak-secrets'];

describe('the Helm chart', () => {
  test('helm lint passes (strict), and a chart without temporal.address refuses to render', async () => {
    const lint = await run(helm, ['lint', CHART, '--strict', ...BASE.flatMap((s) => ['--set', s])]);
    assert.equal(lint.code, 0, `${lint.stdout}\n${lint.stderr}`);
    assert.match(lint.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    const missing = await run(helm, ['template', 'firebreak', CHART]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /temporal\.address is required/);
  });

  test("the chart's RBAC is exactly `firebreak rbac`'s for the same namespaces", async () => {
    const { docs } = await render('firebreak', 'firebreak', [
      ...BASE,
      'rbac.namespaces={shop,payments}',
      'rbac.heapProfileNamespaces={shop}',
    ]);
    const rbacKinds = new Set(['ServiceAccount', 'Secret', 'Role', 'RoleBinding', 'ClusterRole', 'ClusterRoleBinding']);
    // Labels are the chart's own; the Namespace is Helm's --create-namespace, not a template.
    const shape = (d: Doc) => {
      const { labels: _labels, ...metadata } = d.metadata as Doc;
      return { ...d, metadata };
    };
    const rendered = docs.filter((d) => rbacKinds.has(d.kind)).map(shape);
    const generated = rbacManifests({ namespaces: ['shop', 'payments'], heapProfileNamespaces: ['shop'] }).filter(
      (d) => d.kind !== 'Namespace',
    );
    const key = (d: Doc) => `${d.kind}/${d.metadata.namespace ?? ''}/${d.metadata.name}`;
    const sorted = (list: Doc[]) => [...list].sort((a, b) => key(a).localeCompare(key(b)));
    assert.deepEqual(sorted(rendered), sorted(generated));
  });

  test('the pod: non-root, read-only root filesystem with emptyDirs, probes on /healthz, secrets and config by reference', async () => {
    const { docs } = await render('firebreak', 'firebreak', [
      ...BASE,
      'config.existingConfigMap=firebreak-routes',
      'rbac.namespaces={shop}',
    ]);
    const deployment = docs.find((d) => d.kind === 'Deployment')!;
    const pod = deployment.spec.template.spec;
    const container = pod.containers[0];
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(container.securityContext.readOnlyRootFilesystem, true);
    assert.equal(container.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(container.securityContext.capabilities.drop, ['ALL']);
    for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
      assert.equal(container[probe].httpGet.path, '/healthz', probe);
    }
    const env = Object.fromEntries(container.env.map((e: Doc) => [e.name, e.value]));
    assert.equal(env.TEMPORAL_ADDRESS, 'temporal-frontend.temporal.svc:7233');
    assert.equal(env.FIREBREAK_CONFIG, '/etc/firebreak/firebreak.yaml');
    assert.equal(env.FIREBREAK_INGRESS_KUBECONFIG, '/var/run/secrets/firebreak-ingress');
    assert.deepEqual(container.envFrom, [{ secretRef: { name: 'firebreak-secrets' } }]);
    const volumes = Object.fromEntries(pod.volumes.map((v: Doc) => [v.name, v]));
    const mounts = Object.fromEntries(container.volumeMounts.map((m: Doc) => [m.mountPath, m.name]));
    // Every writable path is an emptyDir; the rest of the filesystem is the image's, read-only.
    assert.deepEqual(volumes[mounts['/var/lib/firebreak/data']].emptyDir, {});
    assert.deepEqual(volumes[mounts['/tmp']].emptyDir, {});
    assert.equal(volumes.config.configMap.name, 'firebreak-routes');
    assert.equal(docs.filter((d) => d.kind === 'ConfigMap').length, 0, 'an existing ConfigMap is not rendered');
    assert.deepEqual(container.resources.requests, { cpu: '250m', memory: '768Mi' });
    const pdb = docs.find((d) => d.kind === 'PodDisruptionBudget')!;
    assert.equal(pdb.spec.minAvailable, 1);
    assert.deepEqual(pdb.spec.selector.matchLabels, deployment.spec.selector.matchLabels);
    const service = docs.find((d) => d.kind === 'Service')!;
    assert.deepEqual(service.spec.selector, deployment.spec.selector.matchLabels);
  });

  test(
    'installs on the bed control plane: applied server-side, its pods Running under kwok',
    { skip: SKIP_WITHOUT_KUBE },
    async (t) => {
      const kube = kubeTestEnv()!;
      const suffix = randomBytes(3).toString('hex');
      const release = `firebreak-${suffix}`;
      const namespace = `fb-chart-${suffix}`;
      const target = `fb-shop-${suffix}`;
      const kubectl = (args: string[]) => run(kube.kubectl, ['--kubeconfig', kube.kubeconfig, ...args]);
      const { text, docs } = await render(release, namespace, [
        ...BASE,
        `rbac.namespaces={${target}}`,
        `rbac.heapProfileNamespaces={${target}}`,
        'config.inline=routes: []',
      ]);
      const file = path.join(work, `${release}.yaml`);
      await writeFile(file, text);
      t.after(async () => {
        await kubectl(['delete', '-f', file, '--ignore-not-found', '--wait=false']);
        await kubectl(['delete', 'namespace', namespace, target, '--ignore-not-found', '--wait=false']);
      });
      for (const ns of [namespace, target]) assert.equal((await kubectl(['create', 'namespace', ns])).code, 0);
      // What the chart's existingSecret names: the operator's own Secret.
      const secret = await kubectl([
        '-n',
        namespace,
        'create',
        'secret',
        'generic',
        'firebreak-secrets',
        '--from-literal=SLACK_BOT_TOKEN=xoxb-test',
        '--from-literal=FIREBREAK_WEBHOOK_TOKEN=t',
      ]);
      assert.equal(secret.code, 0, secret.stderr);
      const applied = await kubectl(['apply', '--server-side', '--field-manager=helm-chart-test', '-f', file]);
      assert.equal(applied.code, 0, applied.stderr);
      assert.equal(applied.stdout.trim().split('\n').length, docs.length, applied.stdout);

      const deadline = Date.now() + 90_000;
      let pods: Doc[] = [];
      while (Date.now() < deadline) {
        const listed = await kubectl([
          '-n',
          namespace,
          'get',
          'pods',
          '-l',
          `app.kubernetes.io/instance=${release}`,
          '-o',
          'json',
        ]);
        pods = (JSON.parse(listed.stdout || '{"items":[]}') as { items: Doc[] }).items;
        if (pods.length === 2 && pods.every((p) => p.status?.phase === 'Running')) break;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      t.diagnostic(`pods: ${pods.map((p) => `${p.metadata.name}=${p.status?.phase}`).join(', ')}`);
      assert.equal(pods.length, 2, 'replicaCount 2');
      assert.ok(
        pods.every((p) => p.status?.phase === 'Running'),
        pods.map((p) => p.status?.phase).join(),
      );
      // The pod spec the server accepted keeps the security settings (nothing dropped by admission).
      assert.equal(pods[0]!.spec.securityContext.runAsNonRoot, true);
      assert.equal(pods[0]!.spec.serviceAccountName, release);
      // The token controller filled the ingress's token Secret the pod mounts.
      let token = '';
      for (let i = 0; i < 40 && !token; i++) {
        const got = await kubectl([
          '-n',
          namespace,
          'get',
          'secret',
          `${release}-ingress-token`,
          '-o',
          'jsonpath={.data.token}',
        ]);
        token = got.stdout.trim();
        if (!token) await new Promise((resolve) => setTimeout(resolve, 250));
      }
      assert.ok(token, "the ingress's token Secret was filled");
      // The worker's account may patch Deployments in the target namespace and nothing cluster-wide.
      const can = async (verb: string, resource: string, ns: string, subresource?: string) =>
        (
          await kubectl([
            'auth',
            'can-i',
            verb,
            resource,
            ...(subresource ? [`--subresource=${subresource}`] : []),
            '-n',
            ns,
            `--as=system:serviceaccount:${namespace}:${release}`,
          ])
        ).stdout.trim();
      assert.equal(await can('patch', 'deployments.apps', target), 'yes');
      assert.equal(await can('create', 'pods', target, 'exec'), 'yes');
      assert.equal(await can('patch', 'deployments.apps', namespace), 'no');
      const rollout = await kubectl(['-n', namespace, 'rollout', 'status', `deployment/${release}`, '--timeout=60s']);
      assert.equal(rollout.code, 0, rollout.stderr);
    },
  );
});

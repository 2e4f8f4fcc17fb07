/**
 * Test bed component: a real Kubernetes control plane on loopback.
 *
 * etcd → kube-apiserver (TLS, token auth, RBAC) → a fake node → kube-controller-manager
 * (deployment, replicaset, garbage-collector, namespace, serviceaccount controllers) →
 * kube-scheduler → kwok (fake kubelet: pods become Running, exec and logs served locally).
 * Binaries come from test/kube/build.sh (cached per version in ~/.cache/firebreak/); data, certs,
 * kubeconfigs and component logs live under opts.workDir.
 *
 * Env for test processes:
 *   FIREBREAK_TEST_KUBECONFIG   admin kubeconfig (system:masters)
 *   FIREBREAK_TEST_KUBECTL      kubectl from the same build, the reference client
 *   FIREBREAK_TEST_KUBE_NODE    name of the fake node pods land on
 *   FIREBREAK_TEST_KUBE_LOGS_DIR  component logs, for a failing test to point at
 *
 * Standalone (`node --import tsx test/bed/kube.ts`): starts, prints the env as `export` lines, and
 * stops everything on SIGINT/SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { appendFileSync, openSync, closeSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify as toYaml, parseAllDocuments } from 'yaml';
import { runBuildScript } from './build';
import { makeServingCertificate } from './pki';
import { freePort } from './ports';

export const FAKE_NODE_NAME = 'kwok-node-0';
const STEP_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 5_000;

interface BedOptions {
  workDir: string;
  log: (msg: string) => void;
}

interface Component {
  name: string;
  child: ChildProcess;
  exited: Promise<void>;
}

/** Runs test/kube/build.sh (instant when cached) and returns the directory holding the binaries. */
export async function ensureKubeBinaries(log: (msg: string) => void): Promise<string> {
  return runBuildScript('test/kube/build.sh', 'kube-apiserver', log);
}

/** A CA, the serving certificate (apiserver and kwok's kubelet endpoint) and the service-account key pair. */
async function makePki(dir: string): Promise<void> {
  await makeServingCertificate(dir, {
    name: 'serving',
    commonName: 'kube-apiserver',
    sans: [
      'IP:127.0.0.1',
      'IP:10.96.0.1',
      'DNS:localhost',
      'DNS:kubernetes',
      'DNS:kubernetes.default',
      'DNS:kubernetes.default.svc',
      'DNS:kubernetes.default.svc.cluster.local',
    ],
    clientAuth: true,
  });
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  await writeFile(path.join(dir, 'sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  await writeFile(path.join(dir, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
}

function kubeconfigYaml(server: string, caPem: string, user: string, token: string): string {
  return toYaml({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'firebreak-test',
        cluster: { server, 'certificate-authority-data': Buffer.from(caPem).toString('base64') },
      },
    ],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: 'firebreak-test', context: { cluster: 'firebreak-test', user, namespace: 'default' } }],
    'current-context': 'firebreak-test',
  });
}

interface HttpAnswer {
  status: number;
  body: string;
}

function get(url: string, opts: { ca?: string; token?: string } = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const requester = url.startsWith('https:') ? httpsRequest : httpRequest;
    const req = requester(
      url,
      {
        method: 'GET',
        ca: opts.ca,
        headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {},
        timeout: 5_000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

function send(
  url: string,
  method: 'POST' | 'PATCH',
  body: unknown,
  opts: { ca: string; token: string; contentType?: string },
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body);
    const req = httpsRequest(
      url,
      {
        method,
        ca: opts.ca,
        timeout: 10_000,
        headers: {
          authorization: `Bearer ${opts.token}`,
          'content-type': opts.contentType ?? 'application/json',
          'content-length': Buffer.byteLength(payload),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${url} timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** Polls `probe` until it returns true; fails with the component's name and the last error. */
async function waitFor(
  what: string,
  probe: () => Promise<boolean>,
  component?: Component,
  timeoutMs = STEP_TIMEOUT_MS,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  let exited = false;
  void component?.exited.then(() => (exited = true));
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${component?.name} exited while waiting for ${what}; see its log`);
    try {
      if (await probe()) return;
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${lastError}` : ''}`);
}

export async function startKube(opts: BedOptions): Promise<{ env: Record<string, string>; stop(): Promise<void> }> {
  const started = Date.now();
  const bin = await ensureKubeBinaries(opts.log);
  const kwokAssets = path.join(path.dirname(bin), 'kwok');
  const root = path.join(opts.workDir, 'kube');
  const pki = path.join(root, 'pki');
  const logsDir = path.join(root, 'logs');
  await mkdir(logsDir, { recursive: true });
  await makePki(pki);
  const ca = await readFile(path.join(pki, 'ca.crt'), 'utf8');

  const components: Component[] = [];
  const pidFile = path.join(root, 'pgids');
  // If this process dies without calling stop(), the watchdog takes the control plane down with it.
  const watchdog = spawn(
    'sh',
    [
      '-c',
      `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done
       for p in $(cat "$0" 2>/dev/null); do kill -TERM -$p 2>/dev/null; done; sleep 3
       for p in $(cat "$0" 2>/dev/null); do kill -KILL -$p 2>/dev/null; done`,
      pidFile,
    ],
    { detached: true, stdio: 'ignore' },
  );
  watchdog.unref();

  const launch = (name: string, binary: string, args: string[]): Component => {
    const logPath = path.join(logsDir, `${name}.log`);
    const fd = openSync(logPath, 'a');
    const child = spawn(path.join(bin, binary), args, { cwd: root, stdio: ['ignore', fd, fd], detached: true });
    closeSync(fd);
    if (child.pid) appendFileSync(pidFile, `${child.pid}\n`);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const component = { name, child, exited };
    components.push(component);
    return component;
  };

  const stop = async (): Promise<void> => {
    for (const component of [...components].reverse()) {
      const { child } = component;
      if (child.exitCode === null && child.signalCode === null && child.pid) {
        try {
          process.kill(-child.pid, 'SIGTERM');
        } catch {
          // already gone
        }
        let timer: NodeJS.Timeout | undefined;
        const killed = await Promise.race([
          component.exited.then(() => true),
          new Promise<boolean>((r) => (timer = setTimeout(() => r(false), STOP_GRACE_MS))),
        ]);
        clearTimeout(timer);
        if (!killed) {
          opts.log(`${component.name} ignored SIGTERM for ${STOP_GRACE_MS} ms; killing it`);
          try {
            process.kill(-child.pid, 'SIGKILL');
          } catch {
            // already gone
          }
          await component.exited;
        }
      }
    }
    components.length = 0;
    if (watchdog.pid) {
      try {
        process.kill(-watchdog.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };

  try {
    const [etcdClientPort, etcdPeerPort, apiPort, kwokPort] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);

    const etcdUrl = `http://127.0.0.1:${etcdClientPort}`;
    const etcd = launch('etcd', 'etcd', [
      '--name=firebreak-test',
      `--data-dir=${path.join(root, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-cluster=firebreak-test=http://127.0.0.1:${etcdPeerPort}`,
      // A throwaway store: durability buys nothing and fsync is the slowest thing on a busy machine.
      '--unsafe-no-fsync',
      '--log-level=warn',
    ]);
    await waitFor('etcd health', async () => (await get(`${etcdUrl}/health`)).status === 200, etcd);
    opts.log(`etcd ready (${Date.now() - started} ms)`);

    const tokens = {
      admin: randomBytes(24).toString('hex'),
      controllerManager: randomBytes(24).toString('hex'),
      scheduler: randomBytes(24).toString('hex'),
      kwok: randomBytes(24).toString('hex'),
    };
    // The control-plane components act as system:masters: with one identity each (instead of a
    // service account per controller) that is what they need, and it keeps start-up short.
    await writeFile(
      path.join(pki, 'tokens.csv'),
      [
        `${tokens.admin},firebreak-test-admin,uid-admin,"system:masters"`,
        `${tokens.controllerManager},system:kube-controller-manager,uid-kcm,"system:masters"`,
        `${tokens.scheduler},system:kube-scheduler,uid-scheduler,"system:masters"`,
        `${tokens.kwok},kwok-controller,uid-kwok,"system:masters"`,
      ].join('\n') + '\n',
      { mode: 0o600 },
    );

    const server = `https://127.0.0.1:${apiPort}`;
    const apiserver = launch('kube-apiserver', 'kube-apiserver', [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--tls-cert-file=${path.join(pki, 'serving.crt')}`,
      `--tls-private-key-file=${path.join(pki, 'serving.key')}`,
      `--client-ca-file=${path.join(pki, 'ca.crt')}`,
      `--token-auth-file=${path.join(pki, 'tokens.csv')}`,
      '--authorization-mode=RBAC',
      '--anonymous-auth=false',
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${path.join(pki, 'sa.pub')}`,
      `--service-account-signing-key-file=${path.join(pki, 'sa.key')}`,
      '--service-cluster-ip-range=10.96.0.0/16',
      // ServiceAccount: pods get no projected token volume (nothing in a fake pod reads one), so
      // pod creation does not wait for the namespace's default ServiceAccount.
      // TaintNodesByCondition: it taints a new node not-ready until the node-lifecycle controller
      // clears it; kwok reports the fake node Ready at once, and that controller is not needed.
      '--disable-admission-plugins=ServiceAccount,TaintNodesByCondition',
      '--enable-priority-and-fairness=false',
      '--profiling=false',
      '--endpoint-reconciler-type=none',
      // kwok serves exec and logs with the bed's own certificate, which the apiserver does not
      // need to verify on loopback.
      `--kubelet-preferred-address-types=InternalIP`,
      '--v=1',
    ]);
    await waitFor(
      'kube-apiserver /readyz',
      async () => (await get(`${server}/readyz`, { ca, token: tokens.admin })).status === 200,
      apiserver,
    );
    opts.log(`apiserver ready (${Date.now() - started} ms)`);

    const kubeconfigs = {
      admin: path.join(root, 'admin.kubeconfig'),
      controllerManager: path.join(root, 'controller-manager.kubeconfig'),
      scheduler: path.join(root, 'scheduler.kubeconfig'),
      kwok: path.join(root, 'kwok.kubeconfig'),
    };
    await Promise.all([
      writeFile(kubeconfigs.admin, kubeconfigYaml(server, ca, 'firebreak-test-admin', tokens.admin), { mode: 0o600 }),
      writeFile(
        kubeconfigs.controllerManager,
        kubeconfigYaml(server, ca, 'system:kube-controller-manager', tokens.controllerManager),
        { mode: 0o600 },
      ),
      writeFile(kubeconfigs.scheduler, kubeconfigYaml(server, ca, 'system:kube-scheduler', tokens.scheduler), {
        mode: 0o600,
      }),
      writeFile(kubeconfigs.kwok, kubeconfigYaml(server, ca, 'kwok-controller', tokens.kwok), { mode: 0o600 }),
    ]);

    // kwok's Logs CRD lets a test give each fake pod its own log files.
    const crd = await readFile(path.join(kwokAssets, 'kwok.x-k8s.io_logs.yaml'), 'utf8');
    const created = await send(
      `${server}/apis/apiextensions.k8s.io/v1/customresourcedefinitions`,
      'POST',
      parseAllDocuments(crd)[0]?.toJSON(),
      { ca, token: tokens.admin },
    );
    if (created.status !== 201 && created.status !== 409)
      throw new Error(`creating the kwok Logs CRD: ${created.status} ${created.body}`);

    const node = await send(
      `${server}/api/v1/nodes`,
      'POST',
      {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: {
          name: FAKE_NODE_NAME,
          annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
          labels: {
            'kubernetes.io/hostname': FAKE_NODE_NAME,
            'kubernetes.io/os': 'linux',
            'kubernetes.io/arch': 'amd64',
            type: 'kwok',
          },
        },
        status: {
          capacity: { cpu: '64', memory: '256Gi', pods: '250' },
          allocatable: { cpu: '64', memory: '256Gi', pods: '250' },
        },
      },
      { ca, token: tokens.admin },
    );
    if (node.status !== 201 && node.status !== 409)
      throw new Error(`creating the fake node: ${node.status} ${node.body}`);

    launch('kube-controller-manager', 'kube-controller-manager', [
      `--kubeconfig=${kubeconfigs.controllerManager}`,
      '--controllers=deployment-controller,replicaset-controller,garbage-collector-controller,namespace-controller,serviceaccount-controller,serviceaccount-token-controller',
      `--service-account-private-key-file=${path.join(pki, 'sa.key')}`,
      `--root-ca-file=${path.join(pki, 'ca.crt')}`,
      '--use-service-account-credentials=false',
      '--leader-elect=false',
      '--secure-port=0',
      '--v=1',
    ]);
    launch('kube-scheduler', 'kube-scheduler', [
      `--kubeconfig=${kubeconfigs.scheduler}`,
      `--authentication-kubeconfig=${kubeconfigs.scheduler}`,
      `--authorization-kubeconfig=${kubeconfigs.scheduler}`,
      '--leader-elect=false',
      '--secure-port=0',
      '--v=1',
    ]);

    const execDir = path.join(root, 'exec');
    await mkdir(execDir, { recursive: true });
    const kwokConfig = [
      await readFile(path.join(kwokAssets, 'stages.yaml'), 'utf8'),
      // Exec into any fake pod runs the command on this machine: enough to prove our exec waits
      // for the command and reads its exit status.
      toYaml({
        apiVersion: 'kwok.x-k8s.io/v1alpha1',
        kind: 'ClusterExec',
        metadata: { name: 'local' },
        spec: { execs: [{ local: { workDir: execDir } }] },
      }),
    ].join('\n---\n');
    await writeFile(path.join(root, 'kwok.yaml'), kwokConfig);
    const kwok = launch('kwok', 'kwok', [
      `--kubeconfig=${kubeconfigs.kwok}`,
      `--config=${path.join(root, 'kwok.yaml')}`,
      '--manage-all-nodes=false',
      '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
      '--node-ip=127.0.0.1',
      `--node-port=${kwokPort}`,
      `--server-address=127.0.0.1:${kwokPort}`,
      `--tls-cert-file=${path.join(pki, 'serving.crt')}`,
      `--tls-private-key-file=${path.join(pki, 'serving.key')}`,
      '--node-lease-duration-seconds=40',
      // Per-pod log files come from Logs objects the tests create; exec stays in the static config.
      '--enable-crds=Logs',
    ]);

    await waitFor(
      `node ${FAKE_NODE_NAME} Ready`,
      async () => {
        const answer = await get(`${server}/api/v1/nodes/${FAKE_NODE_NAME}`, { ca, token: tokens.admin });
        if (answer.status !== 200) return false;
        const conditions: { type: string; status: string }[] = JSON.parse(answer.body).status?.conditions ?? [];
        return conditions.some((c) => c.type === 'Ready' && c.status === 'True');
      },
      kwok,
    );
    // The default namespace's ServiceAccount is the last thing the controllers set up that tests
    // may rely on (TokenRequest for a namespaced identity).
    await waitFor(
      'serviceaccount default/default',
      async () =>
        (await get(`${server}/api/v1/namespaces/default/serviceaccounts/default`, { ca, token: tokens.admin }))
          .status === 200,
    );
    opts.log(`control plane ready in ${Date.now() - started} ms (apiserver ${server})`);

    return {
      env: {
        FIREBREAK_TEST_KUBECONFIG: kubeconfigs.admin,
        FIREBREAK_TEST_KUBECTL: path.join(bin, 'kubectl'),
        FIREBREAK_TEST_KUBE_NODE: FAKE_NODE_NAME,
        FIREBREAK_TEST_KUBE_LOGS_DIR: logsDir,
      },
      stop,
    };
  } catch (err) {
    opts.log(`start failed; component logs in ${logsDir}`);
    await stop();
    throw err;
  }
}

async function main(): Promise<void> {
  const ownDir = process.env.FIREBREAK_TEST_WORK_DIR
    ? undefined
    : await mkdtemp(path.join(tmpdir(), 'firebreak-kube-'));
  const workDir = ownDir ?? process.env.FIREBREAK_TEST_WORK_DIR!;
  const log = (msg: string) => console.error(`kube: ${msg}`);
  const bed = await startKube({ workDir, log });
  for (const [key, value] of Object.entries(bed.env)) console.log(`export ${key}=${value}`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  log('stopping');
  await bed.stop();
  if (ownDir) await rm(ownDir, { recursive: true, force: true });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}

/**
 * The end-to-end harness: the REAL engine (`firebreak start` as a child process, the prebuilt
 * workflow bundle, every real activity) against the bed's Temporal dev server, Kubernetes control
 * plane and Prometheus, with the Slack and PagerDuty stand-ins this file starts on loopback.
 * Humans act the way they do in production: signed Slack requests (commands, button clicks taken
 * from the messages the engine posted) and the `firebreak` CLI; the cluster is checked with the
 * reference kubectl.
 *
 * Everything a world starts, `close()` stops; the engine child is also SIGKILLed if the test
 * process exits first.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer as createNetServer } from 'node:net';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Deployment,
  type V1ReplicaSet,
} from '@kubernetes/client-node';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { stringify as toYaml } from 'yaml';
import { alertWorkflowId, fnv1a64 } from '../../common/ids';
import type { IncidentRecord } from '../../common/types';
import { CLUSTER_CHANGES } from '../../postmortem/activity-names';
import type { Postmortem } from '../../postmortem/model';
import { statusQuery } from '../../domain/messages';
import { gateActionId } from '../../domain/slack/buttons';
import { amtoolAlert, registerSink, type BedAlertmanager } from '../bed/alertmanager';
import { PagerDutyStandIn } from '../bed/pagerduty-standin';
import {
  blockActionsBody,
  signSlackRequest,
  slashCommandBody,
  SlackStandIn,
  type StoredMessage,
} from '../bed/slack-standin';
import { freePort, freePortsBetween } from '../bed/ports';
import { DEFAULT_SERVICE_ACCOUNT, ingressServiceAccountFor } from '../../runbooks/rbac';
import { applyGeneratedRbac, deploymentManifest, serviceAccountToken, type DeploymentShape } from '../kube/fixtures';
import { closeServer, listenOnLoopback } from '../bed/process';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIREBREAK_BIN = path.join(ROOT, 'bin', 'firebreak.mjs');

export const SLACK_TOKEN = 'xoxb-firebreak-test';
export const SLACK_CHANNEL = 'C0INCIDENTS';
export const ALICE = { id: 'U0ALICE0001', name: 'alice' };
export const BOB = { id: 'U0BOB00001', name: 'bob' };
/** The bed's Alertmanager sends this token; direct posts use it too, so one engine serves both. */
export const WEBHOOK_TOKEN = process.env.FIREBREAK_TEST_ALERTMANAGER_WEBHOOK_TOKEN ?? 'e2e-webhook-token';
export const ALERT_RECEIVER = 'firebreak';

/** What the e2e tests need from the bed (test/run.ts): Temporal, Kubernetes, the workflow bundle. */
export interface E2eBed {
  temporalAddress: string;
  namespace: string;
  kubeconfig: string;
  kubectl: string;
  prometheusUrl?: string;
  workflowBundle?: string;
  alertmanager?: BedAlertmanager;
}

export function e2eBed(): E2eBed | undefined {
  const env = process.env;
  if (!env.FIREBREAK_TEST_TEMPORAL_ADDRESS || !env.FIREBREAK_TEST_KUBECONFIG || !env.FIREBREAK_TEST_KUBECTL) {
    return undefined;
  }
  return {
    temporalAddress: env.FIREBREAK_TEST_TEMPORAL_ADDRESS,
    namespace: env.FIREBREAK_TEST_TEMPORAL_NAMESPACE ?? 'default',
    kubeconfig: env.FIREBREAK_TEST_KUBECONFIG,
    kubectl: env.FIREBREAK_TEST_KUBECTL,
    ...(env.FIREBREAK_TEST_PROMETHEUS_URL ? { prometheusUrl: env.FIREBREAK_TEST_PROMETHEUS_URL } : {}),
    ...(env.FIREBREAK_TEST_WORKFLOW_BUNDLE ? { workflowBundle: env.FIREBREAK_TEST_WORKFLOW_BUNDLE } : {}),
    ...(env.FIREBREAK_TEST_ALERTMANAGER_URL && env.FIREBREAK_TEST_ALERTMANAGER_RELAY_URL
      ? {
          alertmanager: {
            url: env.FIREBREAK_TEST_ALERTMANAGER_URL,
            relayUrl: env.FIREBREAK_TEST_ALERTMANAGER_RELAY_URL,
            token: WEBHOOK_TOKEN,
            basicAuth: env.FIREBREAK_TEST_ALERTMANAGER_WEBHOOK_BASIC_AUTH ?? '',
          },
        }
      : {}),
  };
}

export const SKIP_WITHOUT_E2E_BED = e2eBed()
  ? false
  : 'needs the temporal and kube bed components (npm test -- --bed temporal,kube,prometheus test/e2e/...)';

// ---- small utilities ----------------------------------------------------------------------------

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls until `probe` returns a value (not undefined/false); the error names what was awaited. */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 30_000,
  intervalMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    await sleep(intervalMs);
  }
  const detail = lastError ? `: ${lastError instanceof Error ? lastError.message : String(lastError)}` : '';
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(file, args, { env, timeout: timeoutMs, maxBuffer: 32 * 1024 * 1024, cwd: ROOT }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

// ---- a health endpoint the test controls ---------------------------------------------------------

/**
 * The service's health check (`/health`, healthy or not as the test says) and a pprof-like heap
 * endpoint (`/debug/pprof/heap`) for the OOM runbook's heap profile, on loopback.
 */
export class ServiceEndpoint {
  healthy = false;
  readonly healthHits: { at: number; healthy: boolean }[] = [];
  heapHits = 0;
  heapProfile = Buffer.from(`heap profile: 42: 1048576 [42: 1048576] @ heap/1048576\n${'#'.repeat(2000)}\n`);
  private server?: Server;
  baseUrl = '';

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://service');
      if (url.pathname === '/health') {
        this.healthHits.push({ at: Date.now(), healthy: this.healthy });
        res.writeHead(this.healthy ? 200 : 503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status: this.healthy ? 'ok' : 'down' }));
        return;
      }
      if (url.pathname === '/debug/pprof/heap') {
        this.heapHits += 1;
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.end(this.heapProfile);
        return;
      }
      res.writeHead(404).end();
    });
    this.server = server;
    this.baseUrl = `http://127.0.0.1:${await listenOnLoopback(server)}`;
  }

  get healthUrl(): string {
    return `${this.baseUrl}/health`;
  }

  get heapUrl(): string {
    return `${this.baseUrl}/debug/pprof/heap`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await closeServer(server);
  }
}

// ---- the engine as a child process ---------------------------------------------------------------

const liveChildren = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of liveChildren) child.kill('SIGKILL');
});

/**
 * `firebreak start` in its own process, as an operator runs it. `kill('SIGKILL')` is the chaos:
 * no shutdown hook runs, in-flight activities are abandoned mid-call.
 */
export class FirebreakProcess {
  private child?: ChildProcess;
  private exited?: Promise<void>;
  readonly output: string[] = [];
  starts = 0;

  constructor(
    readonly env: Record<string, string>,
    readonly url: string,
    /** How long start() waits for /healthz by default (longer when it starts its own Temporal). */
    readonly startTimeoutMs = 60_000,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Started and not exited (a SIGKILL, or `firebreak start` giving up, ends it). */
  get running(): boolean {
    return Boolean(this.child);
  }

  async start(timeoutMs = this.startTimeoutMs): Promise<void> {
    if (this.child) throw new Error('firebreak is already running');
    this.starts += 1;
    const child = spawn(process.execPath, [FIREBREAK_BIN, 'start'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    liveChildren.add(child);
    const tag = `[firebreak#${this.starts}]`;
    const keep = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) if (line.trim()) this.output.push(`${tag} ${line}`);
      if (this.output.length > 2000) this.output.splice(0, this.output.length - 2000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exited = new Promise<void>((resolve) =>
      child.once('exit', (code, signal) => {
        liveChildren.delete(child);
        this.output.push(`${tag} exited (${signal ?? code})`);
        if (this.child === child) this.child = undefined;
        resolve();
      }),
    );
    let gone = false;
    void this.exited.then(() => (gone = true));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (gone) throw new Error(`firebreak exited during start-up:\n${this.tail(40)}`);
      try {
        const answer = await fetch(`${this.url}/healthz`, { signal: AbortSignal.timeout(2_000) });
        if (answer.status === 200) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await this.kill();
        throw new Error(`firebreak did not answer GET ${this.url}/healthz within ${timeoutMs} ms:\n${this.tail(40)}`);
      }
      await sleep(250);
    }
  }

  /** SIGKILL by default: the process gets no chance to drain anything. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill(signal);
    await this.exited;
  }

  /** Graceful stop (SIGTERM: ingress, worker drain), SIGKILL after 25 s. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 25_000);
    await this.exited;
    clearTimeout(timer);
  }

  tail(lines = 60): string {
    return this.output.slice(-lines).join('\n');
  }
}

// ---- Kubernetes -----------------------------------------------------------------------------------

/**
 * Kubeconfigs for the worker and the ingress with exactly the permissions `firebreak rbac
 * --namespaces <these> --heap-profile <these>` prints, applied as an operator would: the worker's
 * service account, and the ingress's own (its cluster-wide reads are not the worker's).
 */
export async function leastPrivilegeKubeconfigs(
  admin: KubeConfig,
  files: { worker: string; ingress: string },
  namespaces: string[],
): Promise<void> {
  await applyGeneratedRbac(admin, { namespaces, heapProfileNamespaces: namespaces });
  const cluster = admin.getCurrentCluster();
  if (!cluster) throw new Error('the admin kubeconfig has no cluster');
  for (const [file, account] of [
    [files.worker, DEFAULT_SERVICE_ACCOUNT],
    [files.ingress, ingressServiceAccountFor(DEFAULT_SERVICE_ACCOUNT)],
  ] as const) {
    const token = await eventually(`a token for serviceaccount ${account.namespace}/${account.name}`, () =>
      serviceAccountToken(admin, account),
    );
    const identity = new KubeConfig();
    identity.loadFromOptions({
      clusters: [cluster],
      users: [{ name: account.name, token }],
      contexts: [{ name: account.name, cluster: cluster.name, user: account.name }],
      currentContext: account.name,
    });
    await writeFile(file, identity.exportConfig(), { mode: 0o600 });
  }
}

/** The cluster as the admin and the reference kubectl see it. */
export class Cluster {
  readonly admin: KubeConfig;
  readonly apps: AppsV1Api;
  readonly core: CoreV1Api;

  constructor(readonly bed: E2eBed) {
    this.admin = new KubeConfig();
    this.admin.loadFromFile(bed.kubeconfig);
    this.apps = this.admin.makeApiClient(AppsV1Api);
    this.core = this.admin.makeApiClient(CoreV1Api);
  }

  kubectl(args: string[], timeoutMs = 60_000): Promise<CommandResult> {
    return run(this.bed.kubectl, args, { ...process.env, KUBECONFIG: this.bed.kubeconfig }, timeoutMs);
  }

  async kubectlOk(args: string[], timeoutMs?: number): Promise<string> {
    const result = await this.kubectl(args, timeoutMs);
    if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${result.code}): ${result.stderr}`);
    return result.stdout;
  }

  async kubectlJson<T>(args: string[]): Promise<T> {
    return JSON.parse(await this.kubectlOk([...args, '-o', 'json'])) as T;
  }

  async createNamespace(prefix: string): Promise<string> {
    const name = `${prefix}-${randomBytes(3).toString('hex')}`;
    await this.core.createNamespace({ body: { metadata: { name } } });
    return name;
  }

  async deleteNamespace(name: string): Promise<void> {
    try {
      await this.core.deleteNamespace({ name });
    } catch {
      // already gone
    }
  }

  /**
   * A Deployment shaped for kwok. `minReadySeconds` keeps a rollout in progress for that long
   * after its pods are ready, so a test can kill the engine while the runbook waits for it.
   */
  async deploy(
    namespace: string,
    name: string,
    shape: DeploymentShape & {
      minReadySeconds?: number;
      limits?: Record<string, string>;
    } = {},
  ): Promise<V1Deployment> {
    const manifest = deploymentManifest(name, shape);
    if (shape.minReadySeconds !== undefined) manifest.spec!.minReadySeconds = shape.minReadySeconds;
    if (shape.limits) {
      for (const container of manifest.spec!.template.spec!.containers) container.resources = { limits: shape.limits };
    }
    const created = await this.apps.createNamespacedDeployment({ namespace, body: manifest });
    await this.rolloutStatus(namespace, name);
    return created;
  }

  async rolloutStatus(namespace: string, name: string, timeoutSeconds = 90): Promise<void> {
    await this.kubectlOk(
      ['-n', namespace, 'rollout', 'status', `deployment/${name}`, `--timeout=${timeoutSeconds}s`],
      (timeoutSeconds + 10) * 1000,
    );
  }

  /** A new revision of the pod template, as a deploy pipeline makes one (`kubectl set image`). */
  async setImage(namespace: string, name: string, image: string, container = 'app'): Promise<void> {
    await this.kubectlOk(['-n', namespace, 'set', 'image', `deployment/${name}`, `${container}=${image}`]);
    await this.rolloutStatus(namespace, name);
  }

  async deployment(namespace: string, name: string): Promise<V1Deployment> {
    return this.kubectlJson<V1Deployment>(['-n', namespace, 'get', `deployment/${name}`]);
  }

  /** The Deployment's ReplicaSets with their revision numbers, oldest revision first. */
  async revisions(namespace: string, name: string): Promise<{ revision: number; replicaSet: V1ReplicaSet }[]> {
    const list = await this.kubectlJson<{ items: V1ReplicaSet[] }>([
      '-n',
      namespace,
      'get',
      'replicasets',
      '-l',
      `app=${name}`,
    ]);
    return list.items
      .filter((rs) => rs.metadata?.ownerReferences?.some((o) => o.kind === 'Deployment' && o.name === name))
      .map((rs) => ({
        revision: Number(rs.metadata?.annotations?.['deployment.kubernetes.io/revision']),
        replicaSet: rs,
      }))
      .sort((a, b) => a.revision - b.revision);
  }

  /** What a kubelet reports after the kernel OOM-killed a container (exit 137) and restarted it. */
  async markOomKilled(namespace: string, app: string, container = 'app'): Promise<string> {
    const pods = await this.core.listNamespacedPod({ namespace, labelSelector: `app=${app}` });
    const pod = pods.items.find((p) => p.status?.phase === 'Running');
    if (!pod?.metadata?.name) throw new Error(`no running pod of ${namespace}/${app}`);
    const finishedAt = new Date(Date.now() - 5_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const image = pod.spec?.containers.find((c) => c.name === container)?.image ?? '';
    await this.core.patchNamespacedPodStatus(
      {
        name: pod.metadata.name,
        namespace,
        body: {
          status: {
            containerStatuses: [
              {
                name: container,
                image,
                imageID: '',
                ready: true,
                restartCount: 1,
                started: true,
                state: { running: { startedAt: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') } },
                lastState: { terminated: { reason: 'OOMKilled', exitCode: 137, finishedAt } },
              },
            ],
          },
        },
      },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    return pod.metadata.name;
  }
}

export function containerEnv(deployment: V1Deployment, container = 'app'): Record<string, string> {
  const found = deployment.spec?.template.spec?.containers.find((c) => c.name === container);
  return Object.fromEntries((found?.env ?? []).map((e) => [e.name, e.value ?? '']));
}

export function restartedAt(deployment: V1Deployment): string | undefined {
  return deployment.spec?.template.metadata?.annotations?.['kubectl.kubernetes.io/restartedAt'];
}

// ---- alerts ---------------------------------------------------------------------------------------

export interface AlertSpec {
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  status?: 'firing' | 'resolved';
  startsAt?: string;
}

/** An Alertmanager webhook payload, version 4, as Alertmanager 0.25 sends it. */
export function alertmanagerPayload(groupKey: string, alerts: AlertSpec[], status?: 'firing' | 'resolved') {
  const groupStatus = status ?? (alerts.some((a) => (a.status ?? 'firing') === 'firing') ? 'firing' : 'resolved');
  const common = (pick: (a: AlertSpec) => Record<string, string> | undefined) => {
    const [first, ...rest] = alerts.map((a) => pick(a) ?? {});
    return Object.fromEntries(Object.entries(first ?? {}).filter(([k, v]) => rest.every((o) => o[k] === v)));
  };
  return {
    version: '4',
    receiver: ALERT_RECEIVER,
    status: groupStatus,
    groupKey,
    truncatedAlerts: 0,
    groupLabels: { alertname: alerts[0]?.labels.alertname ?? '' },
    commonLabels: common((a) => a.labels),
    commonAnnotations: common((a) => a.annotations),
    externalURL: 'http://alertmanager.invalid:9093',
    alerts: alerts.map((a) => {
      const alertStatus = a.status ?? 'firing';
      // Alertmanager's fingerprint is a 64-bit hash of the sorted label set; any stable one will do.
      const fingerprint = Object.entries(a.labels)
        .sort()
        .map(([k, v]) => `${k}=${v}`)
        .join(',');
      return {
        status: alertStatus,
        labels: a.labels,
        annotations: a.annotations ?? {},
        startsAt: a.startsAt ?? new Date(Date.now() - 60_000).toISOString(),
        endsAt: alertStatus === 'resolved' ? new Date().toISOString() : '0001-01-01T00:00:00Z',
        generatorURL: 'http://prometheus.invalid:9090/graph',
        fingerprint: fnv1a64(fingerprint),
      };
    }),
  };
}

// ---- the world ------------------------------------------------------------------------------------

/** Whether a process exists and is not a zombie waiting to be reaped. */
async function alive(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return stat !== '' && !/^\d+ \(.*\) [ZX] /s.test(stat);
}

/** A free loopback port whose port + 1000 (the dev server's Web UI) is free too. */
async function freePortWithUi(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const [port] = await freePortsBetween(1, 20_000, 30_000);
    const ui = await new Promise<boolean>((resolve) => {
      const server = createNetServer();
      server.once('error', () => resolve(false));
      server.listen(port! + 1000, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (ui) return port!;
  }
  throw new Error('no free port pair (port, port + 1000) on loopback');
}

export interface WorldOptions {
  /** Prefix of the namespace and task queue. */
  name: string;
  /** The YAML config's `policy` section (durations as text). */
  policy?: Record<string, unknown>;
  tiers?: { name: string; kind: 'slack' | 'pagerduty' | 'email'; mentions?: string[]; to?: string[] }[];
  /** More environment for the engine (e.g. FIREBREAK_SMTP_*). */
  env?: Record<string, string>;
  approvers?: { users: string[]; groups?: string[] };
  routes?: Record<string, unknown>[];
  /** The config's `people` and `permissions` sections, as written in YAML. */
  people?: Record<string, unknown>;
  permissions?: Record<string, unknown>;
  /** Use the admin kubeconfig instead of the least-privilege one. */
  adminKubeconfig?: boolean;
  /** Run against this Temporal instead of the bed's (the dev-server chaos test). */
  temporalAddress?: string;
  /**
   * No TEMPORAL_ADDRESS: `firebreak start` runs its embedded Temporal dev server (on a port of its
   * own, its SQLite file in the engine's data dir), which the chaos sweep kills and restarts.
   */
  embeddedTemporal?: boolean;
  /**
   * `firebreak start` processes on the same task queue and cluster (ingress + worker each, each its
   * own port and data dir); `engine` is the first. One by default.
   */
  replicas?: number;
}

/**
 * One test file's world: a namespace on the cluster, Slack and PagerDuty stand-ins, a service
 * endpoint, a config file, and the engine started with all of it.
 */
export class World {
  readonly slack = new SlackStandIn({ tokens: [SLACK_TOKEN] });
  readonly pagerduty = new PagerDutyStandIn();
  readonly service = new ServiceEndpoint();
  readonly signingSecret = randomBytes(16).toString('hex');
  readonly taskQueue: string;
  readonly cluster: Cluster;
  engine!: FirebreakProcess;
  /** Every replica, `engine` first (WorldOptions.replicas). */
  engines: FirebreakProcess[] = [];
  client!: Client;
  namespace!: string;
  workDir!: string;
  private connection?: Connection;
  /** The embedded Temporal's port, with `embeddedTemporal`. */
  private embeddedPort?: number;
  private unregisterSink?: () => Promise<void>;
  private readonly namespaces: string[] = [];

  private constructor(
    readonly bed: E2eBed,
    readonly options: WorldOptions,
  ) {
    this.taskQueue = `e2e-${options.name}-${randomBytes(4).toString('hex')}`;
    this.cluster = new Cluster(bed);
  }

  static async create(options: WorldOptions): Promise<World> {
    const bed = e2eBed();
    if (!bed) throw new Error(String(SKIP_WITHOUT_E2E_BED));
    const world = new World(bed, options);
    try {
      await world.setUp();
    } catch (err) {
      await world.close();
      throw err;
    }
    return world;
  }

  get temporalAddress(): string {
    if (this.embeddedPort) return `127.0.0.1:${this.embeddedPort}`;
    return this.options.temporalAddress ?? this.bed.temporalAddress;
  }

  private async setUp(): Promise<void> {
    this.workDir = await mkdtemp(path.join(tmpdir(), `firebreak-e2e-${this.options.name}-`));
    await Promise.all([this.slack.start(), this.pagerduty.start(), this.service.start()]);
    // The bot is invited to the incident channel, so it may read its history (a retried card post looks there).
    this.slack.botChannels.add(SLACK_CHANNEL);
    this.namespace = await this.cluster.createNamespace(`e2e-${this.options.name}`);
    this.namespaces.push(this.namespace);

    const kubeconfig = this.options.adminKubeconfig
      ? this.bed.kubeconfig
      : path.join(this.workDir, 'worker.kubeconfig');
    const ingressKubeconfig = this.options.adminKubeconfig
      ? this.bed.kubeconfig
      : path.join(this.workDir, 'ingress.kubeconfig');
    if (!this.options.adminKubeconfig) {
      await leastPrivilegeKubeconfigs(this.cluster.admin, { worker: kubeconfig, ingress: ingressKubeconfig }, [
        this.namespace,
      ]);
    }

    const configPath = path.join(this.workDir, 'firebreak.yaml');
    await writeFile(
      configPath,
      toYaml({
        slack: { channel: SLACK_CHANNEL },
        policy: {
          ackDeadline: { P0: '90s', P1: '90s', P2: '90s', P3: '90s' },
          repageInterval: '60s',
          gateEscalateAfter: '60s',
          gateDeadline: '120s',
          restoreAfter: '60s',
          rolloutTimeoutSeconds: 60,
          verifyWindow: '3s',
          ...this.options.policy,
        },
        escalation: {
          tiers: this.options.tiers ?? [
            { name: 'PagerDuty', kind: 'pagerduty' },
            { name: 'on-call', kind: 'slack', mentions: ['S0ONCALL01'] },
          ],
        },
        approvers: { groups: [], ...(this.options.approvers ?? { users: [] }) },
        routes: this.options.routes ?? [],
        ...(this.options.people ? { people: this.options.people } : {}),
        ...(this.options.permissions ? { permissions: this.options.permissions } : {}),
      }),
    );

    if (this.options.embeddedTemporal) this.embeddedPort = await freePortWithUi();
    for (let replica = 0; replica < (this.options.replicas ?? 1); replica++) {
      const port = await freePort();
      this.engines.push(this.engineProcess(port, replica, configPath, kubeconfig, ingressKubeconfig));
    }
    this.engine = this.engines[0]!;
    // One after the other: each start sets the current build, and two at once would race the bundle cache.
    for (const engine of this.engines) await engine.start();
    this.connection = await Connection.connect({ address: this.temporalAddress });
    this.client = new Client({ connection: this.connection, namespace: this.bed.namespace });
  }

  private engineProcess(
    port: number,
    replica: number,
    configPath: string,
    kubeconfig: string,
    ingressKubeconfig: string,
  ): FirebreakProcess {
    return new FirebreakProcess(
      {
        ...(this.embeddedPort
          ? { FIREBREAK_TEMPORAL_PORT: String(this.embeddedPort) }
          : { TEMPORAL_ADDRESS: this.temporalAddress }),
        TEMPORAL_NAMESPACE: this.bed.namespace,
        FIREBREAK_HOST: '127.0.0.1',
        FIREBREAK_PORT: String(port),
        // A data dir per replica, as each pod has its own (kept builds, evidence).
        FIREBREAK_DATA_DIR: path.join(this.workDir, replica === 0 ? 'data' : `data-${replica}`),
        FIREBREAK_ARCHIVE_DIR: path.join(this.workDir, 'archive'),
        FIREBREAK_CONFIG: configPath,
        FIREBREAK_TASK_QUEUE: this.taskQueue,
        FIREBREAK_WEBHOOK_TOKEN: WEBHOOK_TOKEN,
        ...(this.bed.workflowBundle ? { FIREBREAK_WORKFLOW_BUNDLE: this.bed.workflowBundle } : {}),
        KUBECONFIG: kubeconfig,
        FIREBREAK_INGRESS_KUBECONFIG: ingressKubeconfig,
        SLACK_BOT_TOKEN: SLACK_TOKEN,
        SLACK_SIGNING_SECRET: this.signingSecret,
        SLACK_API_URL: this.slack.apiUrl,
        PAGERDUTY_ROUTING_KEY: 'R0E2EROUTINGKEY00000000000000000',
        PAGERDUTY_EVENTS_URL: this.pagerduty.url,
        ...(this.bed.prometheusUrl ? { PROMETHEUS_URL: this.bed.prometheusUrl } : {}),
        ...this.options.env,
      },
      `http://127.0.0.1:${port}`,
      // The embedded dev server starts first (and replays its SQLite file after a kill).
      this.embeddedPort ? 240_000 : 120_000,
    );
  }

  /** Another namespace removed with the world. */
  async extraNamespace(prefix: string): Promise<string> {
    const name = await this.cluster.createNamespace(prefix);
    this.namespaces.push(name);
    if (!this.options.adminKubeconfig) {
      await applyGeneratedRbac(this.cluster.admin, { namespaces: [name], heapProfileNamespaces: [name] });
    }
    return name;
  }

  async close(): Promise<void> {
    await this.unregisterSink?.().catch(() => undefined);
    for (const engine of this.engines) await engine.kill().catch(() => undefined);
    // A SIGKILLed engine leaves its embedded server running.
    if (this.embeddedPort) await this.killTemporalServer().catch(() => undefined);
    await this.connection?.close().catch(() => undefined);
    await Promise.all([this.slack.stop(), this.pagerduty.stop(), this.service.stop()]);
    for (const ns of this.namespaces) await this.cluster.deleteNamespace(ns);
    if (this.workDir && !process.env.FIREBREAK_TEST_KEEP) await rm(this.workDir, { recursive: true, force: true });
  }

  // ---- the embedded Temporal server (embeddedTemporal) -----------------------------------------

  /** The running `temporal server start-dev` processes on this world's embedded port. */
  async temporalServerPids(): Promise<number[]> {
    if (!this.embeddedPort) throw new Error('this world runs no embedded Temporal server');
    const wanted = ['start-dev', '--port', String(this.embeddedPort)];
    const pids: number[] = [];
    for (const entry of await readdir('/proc').catch(() => [] as string[])) {
      if (!/^\d+$/.test(entry)) continue;
      const args = await readFile(`/proc/${entry}/cmdline`, 'utf8')
        .then((text) => text.split('\0'))
        .catch(() => [] as string[]);
      const at = args.indexOf('--port');
      if (args.includes(wanted[0]!) && at >= 0 && args[at + 1] === wanted[2] && (await alive(Number(entry)))) {
        pids.push(Number(entry));
      }
    }
    return pids;
  }

  /** SIGKILLs the embedded Temporal server (the engine's child, or one a SIGKILLed engine left) and waits until it is gone. */
  async killTemporalServer(): Promise<number> {
    const pids = await this.temporalServerPids();
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    await eventually(
      'the Temporal server gone',
      async () => !(await Promise.all(pids.map(alive))).some(Boolean),
      10_000,
      50,
    );
    return pids.length;
  }

  /**
   * Waits until the engine serves again after its embedded Temporal server was killed: `firebreak
   * start` supervises that server and starts it again on the same port and SQLite file by itself
   * (worker/devserver.ts), so nothing else may start one there (a second server on the port makes
   * the supervisor's own restart fail, and its restart bound stops the engine).
   */
  async awaitTemporalServerBack(timeoutMs = 120_000): Promise<void> {
    if (!this.embeddedPort) throw new Error('this world runs no embedded Temporal server');
    const deadline = Date.now() + timeoutMs;
    while (!(await this.serving())) {
      if (!this.engine.running)
        throw new Error(`the engine exited after its Temporal server was killed:\n${this.logs(30)}`);
      if (Date.now() > deadline) {
        throw new Error(
          `the engine did not serve again within ${timeoutMs} ms of its server's kill:\n${this.logs(30)}`,
        );
      }
      await sleep(250);
    }
  }

  /** The engine runs and its /healthz says ok: Temporal reachable, the worker running. */
  async serving(): Promise<boolean> {
    if (!this.engine.running) return false;
    try {
      const answer = await fetch(`${this.engine.url}/healthz`, { signal: AbortSignal.timeout(5_000) });
      return answer.status === 200;
    } catch {
      return false;
    }
  }

  /**
   * The engine (and its embedded Temporal server) SIGKILLed and started again from its data dir:
   * brings a world back whose engine exited or stopped serving (the chaos sweep, between runs).
   */
  async restartEngine(): Promise<void> {
    for (const engine of this.engines) await engine.kill('SIGKILL');
    if (this.embeddedPort) await this.killTemporalServer();
    for (const engine of this.engines) await engine.start();
  }

  /** The engine's log, for assertion messages. */
  logs(lines = 80): string {
    return this.engine.tail(lines);
  }

  // ---- Slack, as a human in the channel -------------------------------------------------------

  /**
   * `/firebreak <text>` typed by `user`, signed as Slack signs it. Refuses (throws) an answer that
   * is a usage message: every test command is meant to be accepted.
   */
  async slashCommand(text: string, user = ALICE, via = this.engine): Promise<{ status: number; body: string }> {
    const body = slashCommandBody({
      command: '/firebreak',
      text,
      userId: user.id,
      userName: user.name,
      channelId: SLACK_CHANNEL,
      responseUrl: this.slack.responseUrl(),
    });
    const answer = await fetch(`${via.url}/slack/commands`, {
      method: 'POST',
      headers: signSlackRequest(this.signingSecret, body),
      body,
      signal: AbortSignal.timeout(3_000),
    });
    const reply = { status: answer.status, body: await answer.text() };
    if (/usage:|invalid parameters|unknown option|is not <namespace>/i.test(reply.body)) {
      throw new Error(`/firebreak ${text} was refused: ${reply.body}`);
    }
    return reply;
  }

  /** Every interactive element the engine has posted (latest version of each message), newest first. */
  buttons(): { message: StoredMessage; blockId?: string; element: Record<string, unknown> }[] {
    const found: { message: StoredMessage; blockId?: string; element: Record<string, unknown> }[] = [];
    for (const message of [...this.slack.messages].reverse()) {
      for (const block of (message.blocks ?? []) as Record<string, unknown>[]) {
        if (block.type !== 'actions' || !Array.isArray(block.elements)) continue;
        for (const element of block.elements as Record<string, unknown>[]) {
          found.push({ message, blockId: block.block_id as string | undefined, element });
        }
      }
    }
    return found;
  }

  /** Waits for a button whose action id matches, as the engine posted it. */
  async findButton(pattern: RegExp, what: string, timeoutMs = 30_000) {
    return eventually(
      `a Slack button for ${what}`,
      () => this.buttons().find((b) => pattern.test(String(b.element.action_id ?? ''))),
      timeoutMs,
    );
  }

  /**
   * The button deciding one incident's pending gate. Matched on its exact action id, because
   * concurrent tests post cards with the same gate names and a pattern could take another's.
   */
  async gateButton(
    workflowId: string,
    gate: string,
    decision: 'approve' | 'reject' | 'choose',
    options: { index?: number; timeoutMs?: number } = {},
  ) {
    const timeoutMs = options.timeoutMs ?? 30_000;
    const record = await this.waitFor(
      workflowId,
      `the ${gate} gate pending`,
      (r) => r.gates.some((g) => g.name === gate && g.status === 'pending'),
      timeoutMs,
    );
    const pending = record.gates.find((g) => g.name === gate && g.status === 'pending');
    if (!pending) throw new Error(`${workflowId}: no pending ${gate} gate`);
    const actionId = gateActionId(workflowId, record.id, pending, decision, options.index);
    return eventually(
      `the Slack ${decision} button of ${gate} on ${workflowId}`,
      () => this.buttons().find((b) => b.element.action_id === actionId),
      timeoutMs,
    );
  }

  /** Clicks a button: a signed block_actions payload, exactly what Slack posts to the interactivity URL. */
  async click(
    button: { message: StoredMessage; blockId?: string; element: Record<string, unknown> },
    user = BOB,
    via = this.engine,
  ): Promise<{ status: number; body: string }> {
    const now = Date.now() / 1000;
    const payload = {
      type: 'block_actions',
      user: { id: user.id, username: user.name, name: user.name, team_id: this.slack.teamId },
      api_app_id: 'A0FIREBREAK',
      token: 'deprecated-verification-token',
      container: {
        type: 'message',
        message_ts: button.message.ts,
        channel_id: button.message.channel,
        is_ephemeral: false,
        ...(button.message.thread_ts ? { thread_ts: button.message.thread_ts } : {}),
      },
      trigger_id: `${Math.floor(now)}.1.${randomBytes(8).toString('hex')}`,
      team: { id: this.slack.teamId, domain: 'firebreak-test' },
      enterprise: null,
      is_enterprise_install: false,
      channel: { id: button.message.channel, name: 'incidents' },
      message: {
        type: 'message',
        user: this.slack.botUserId,
        bot_id: this.slack.botId,
        ts: button.message.ts,
        text: button.message.text ?? '',
        blocks: button.message.blocks ?? [],
        ...(button.message.thread_ts ? { thread_ts: button.message.thread_ts } : {}),
      },
      state: { values: {} },
      response_url: this.slack.responseUrl(),
      actions: [
        {
          action_id: button.element.action_id,
          block_id: button.blockId,
          text: button.element.text,
          value: button.element.value,
          ...(button.element.style ? { style: button.element.style } : {}),
          type: button.element.type ?? 'button',
          action_ts: now.toFixed(6),
        },
      ],
    };
    const body = blockActionsBody(payload);
    const answer = await fetch(`${via.url}/slack/interactions`, {
      method: 'POST',
      headers: signSlackRequest(this.signingSecret, body),
      body,
      signal: AbortSignal.timeout(3_000),
    });
    return { status: answer.status, body: await answer.text() };
  }

  /** All text the engine posted to the channel (cards and threads, every version). */
  slackText(): string {
    return this.slack.messages
      .flatMap((m) => m.versions.map((v) => `${v.text ?? ''}\n${JSON.stringify(v.blocks ?? [])}`))
      .join('\n');
  }

  // ---- alerts ---------------------------------------------------------------------------------

  /** POSTs an Alertmanager v4 notification to the ingress, with the webhook's bearer token. */
  async postAlerts(
    groupKey: string,
    alerts: AlertSpec[],
    status?: 'firing' | 'resolved',
    via = this.engine,
    timeoutMs = 10_000,
  ) {
    const answer = await fetch(`${via.url}/webhooks/alertmanager`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${WEBHOOK_TOKEN}` },
      body: JSON.stringify(alertmanagerPayload(groupKey, alerts, status)),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await answer.text();
    if (answer.status !== 200) throw new Error(`POST /webhooks/alertmanager answered ${answer.status}: ${text}`);
    return JSON.parse(text) as { workflowId: string; outcome: string; reason?: string; runbook?: string };
  }

  /**
   * Fires (or with `resolved`, ends) an alert through the bed's real Alertmanager with amtool; the
   * bed relays this world's groups (label `sink`) to this engine's webhook.
   */
  async amtool(
    labels: Record<string, string>,
    options: { annotations?: Record<string, string>; resolved?: boolean; start?: Date } = {},
  ) {
    const alertmanager = this.bed.alertmanager;
    if (!alertmanager) throw new Error('the alertmanager bed component is not running');
    this.unregisterSink ??= await registerSink(
      alertmanager,
      this.taskQueue,
      `${this.engine.url}/webhooks/alertmanager`,
    );
    const start = options.start ?? new Date(Date.now() - 30_000);
    await amtoolAlert(
      alertmanager,
      { ...labels, sink: this.taskQueue },
      {
        ...(options.annotations ? { annotations: options.annotations } : {}),
        start,
        // A firing alert without an end would resolve after the bed's 30 s resolve_timeout, and a
        // test slowed past that would see its incident resolved (and gates withdrawn) under it.
        end: options.resolved ? new Date(Date.now() - 1_000) : new Date(Date.now() + 3600_000),
      },
    );
  }

  /** The incidents this world's engine runs on a target, newest first (Temporal visibility). */
  async incidentsOn(target: string): Promise<string[]> {
    const ids: string[] = [];
    const query = `TaskQueue = '${this.taskQueue}' AND FirebreakTarget = '${target}'`;
    for await (const execution of this.client.workflow.list({ query })) ids.push(execution.workflowId);
    return ids;
  }

  alertWorkflowId(groupKey: string): string {
    return alertWorkflowId('alertmanager', ALERT_RECEIVER, groupKey);
  }

  /** The engine's `GET /metrics`, as Prometheus scrapes it. */
  async metrics(): Promise<string> {
    const answer = await fetch(`${this.engine.url}/metrics`, { signal: AbortSignal.timeout(10_000) });
    if (answer.status !== 200) throw new Error(`GET /metrics answered ${answer.status}`);
    return answer.text();
  }

  // ---- the CLI --------------------------------------------------------------------------------

  /** `firebreak <args>` as an on-call engineer runs it, against the same Temporal. */
  async cli(args: string[], user = 'carol', timeoutMs = 60_000): Promise<CommandResult> {
    return run(
      process.execPath,
      [FIREBREAK_BIN, ...args],
      {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        USER: user,
        LOGNAME: user,
        FIREBREAK_USER: user,
        TEMPORAL_ADDRESS: this.temporalAddress,
        TEMPORAL_NAMESPACE: this.bed.namespace,
        FIREBREAK_TASK_QUEUE: this.taskQueue,
        FIREBREAK_CONFIG: this.engine.env.FIREBREAK_CONFIG!,
        FIREBREAK_ARCHIVE_DIR: this.engine.env.FIREBREAK_ARCHIVE_DIR!,
        // `firebreak replay` finds the builds `firebreak start` keeps there.
        FIREBREAK_DATA_DIR: this.engine.env.FIREBREAK_DATA_DIR!,
      },
      timeoutMs,
    );
  }

  async cliOk(args: string[], user?: string): Promise<string> {
    const result = await this.cli(args, user);
    if (result.code !== 0) {
      throw new Error(`firebreak ${args.join(' ')} exited ${result.code}:\n${result.stderr}\n${result.stdout}`);
    }
    return result.stdout;
  }

  /** `firebreak postmortem <id> --format json`, parsed. */
  async postmortem(workflowId: string): Promise<Postmortem> {
    const out = path.join(this.workDir, `postmortem-${randomBytes(4).toString('hex')}.json`);
    const stdout = await this.cliOk(['postmortem', workflowId, '--format', 'json', '--out', out]);
    const text = existsSync(out) ? await readFile(out, 'utf8') : stdout;
    return JSON.parse(text) as Postmortem;
  }

  // ---- the incident, as Temporal holds it ------------------------------------------------------

  async record(workflowId: string): Promise<IncidentRecord | undefined> {
    try {
      return await this.client.workflow.getHandle(workflowId).query(statusQuery);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
  }

  /** Waits until the incident record satisfies `predicate`; the failure shows the timeline and the engine log. */
  async waitFor(
    workflowId: string,
    what: string,
    predicate: (record: IncidentRecord) => boolean,
    timeoutMs = 60_000,
  ): Promise<IncidentRecord> {
    let last: IncidentRecord | undefined;
    try {
      return await eventually(
        `${workflowId}: ${what}`,
        async () => {
          last = await this.record(workflowId);
          return last && predicate(last) ? last : undefined;
        },
        timeoutMs,
        250,
      );
    } catch (err) {
      const timeline = last?.timeline.map((e) => `  ${e.at} ${e.kind}: ${e.message.split('\n')[0]}`).join('\n');
      throw new Error(
        `${(err as Error).message}\nstatus ${last?.status}, step ${last?.currentStep}\n${timeline ?? '(no record)'}\n` +
          `engine log:\n${this.logs(40)}`,
        { cause: err },
      );
    }
  }

  /** The workflow's result once it completes (the final incident record). */
  async result(workflowId: string, timeoutMs = 90_000): Promise<IncidentRecord> {
    const handle = this.client.workflow.getHandle(workflowId);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        void this.record(workflowId)
          .catch(() => undefined)
          .then((record) =>
            reject(
              new Error(
                `${workflowId} did not complete within ${timeoutMs} ms (status ${record?.status}, ` +
                  `step ${record?.currentStep})\n${this.logs(40)}`,
              ),
            ),
          );
      }, timeoutMs);
    });
    try {
      return await Promise.race([handle.result() as Promise<IncidentRecord>, timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * The route most e2e worlds start from: a firing ServiceDown alert starts RB1 (P0), its health check
 * taken from the alert's `health_url` annotation.
 */
export const SERVICE_DOWN_ROUTE = {
  name: 'service-down',
  match: { alertname: 'ServiceDown' },
  runbook: 'p0-response',
  severity: 'P0',
  params: { healthUrl: { annotation: 'health_url' } },
};

/**
 * The enclosing describe's world: `World.create` in the describe's `before` hook (with `options`, or
 * what `options()` returns then, for ports and files found at run time) and `close()` in its `after`
 * hook. Call it in the describe's body; what it returns stands for that world in the describe's
 * tests and helpers (each property read is the created world's, methods bound to it), and throws if
 * used before the `before` hook has created it.
 */
export function worldForSuite(options: WorldOptions | (() => WorldOptions | Promise<WorldOptions>)): World {
  let world: World | undefined;
  before(async () => {
    world = await World.create(typeof options === 'function' ? await options() : options);
  });
  after(async () => {
    await world?.close();
  });
  const created = (): World => {
    if (!world) throw new Error("the e2e world is used before its describe's before() hook created it");
    return world;
  };
  return new Proxy({} as World, {
    get(_, key) {
      const target = created();
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
    set(_, key, value) {
      return Reflect.set(created(), key, value);
    },
  });
}

/** Activities that changed the cluster (dry runs excluded). */
export function clusterChanges(postmortem: Postmortem) {
  return postmortem.activities.filter((a) => {
    if (!CLUSTER_CHANGES.has(a.name)) return false;
    const input = Array.isArray(a.input) ? a.input[0] : a.input;
    return !(input && typeof input === 'object' && 'dryRun' in input && (input as { dryRun?: boolean }).dryRun);
  });
}

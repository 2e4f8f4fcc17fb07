/**
 * Whether the ingress can ask a cluster about pods, which one, and as whom. The ingress reads
 * cluster-wide and the worker changes Deployments in a few namespaces, so they are meant to be two
 * identities (docs/security.md): FIREBREAK_INGRESS_KUBECONFIG names the ingress's — a kubeconfig,
 * or the directory where its service-account-token Secret is mounted. Without it the ingress
 * borrows the worker's: KUBECONFIG, else the in-cluster service account, else ~/.kube/config —
 * kubectl's order. Unlike client-node's loadFromDefault, finding nothing is an answer ("not
 * configured"), not a guess at localhost:8080: the ingress then routes without owner resolution
 * and says so once at start-up.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import type { Env } from '../../config/env';

export type ClusterAccess =
  | {
      ok: true;
      kubeConfig: KubeConfig;
      source: string;
      /** False when the ingress borrows the worker's identity (no FIREBREAK_INGRESS_KUBECONFIG). */
      ownIdentity: boolean;
    }
  | { ok: false; reason: string };

const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export interface AccessProbe {
  exists(file: string): boolean;
  home: string;
  inCluster: boolean;
  /** The in-cluster API server (`https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT`), when in a pod. */
  apiServer?: string;
}

function inClusterServer(): string | undefined {
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = process.env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) return undefined;
  return `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export const defaultProbe = (): AccessProbe => ({
  exists: existsSync,
  home: homedir(),
  inCluster: Boolean(process.env.KUBERNETES_SERVICE_HOST) && existsSync(SERVICE_ACCOUNT_TOKEN),
  apiServer: inClusterServer(),
});

function fromFile(file: string, source: string): ClusterAccess {
  const kubeConfig = new KubeConfig();
  try {
    kubeConfig.loadFromFile(file);
  } catch (err) {
    return { ok: false, reason: `${source} (${file}) could not be loaded: ${(err as Error).message}` };
  }
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) return { ok: false, reason: `${source} (${file}) names no current cluster` };
  return { ok: true, kubeConfig, source: `${source} (${cluster.server})`, ownIdentity: false };
}

/**
 * A mounted service-account-token Secret (`token`, `ca.crt`) against the in-cluster API server:
 * how a pod that runs as the worker's service account also holds the ingress's.
 */
function fromTokenDirectory(dir: string, probe: AccessProbe): ClusterAccess {
  const source = `FIREBREAK_INGRESS_KUBECONFIG (${dir})`;
  if (!probe.apiServer) {
    return {
      ok: false,
      reason: `${source} is a directory of service-account token files, which needs the in-cluster API server (KUBERNETES_SERVICE_HOST/PORT); outside a pod, give a kubeconfig file`,
    };
  }
  let token: string;
  try {
    token = readFileSync(path.join(dir, 'token'), 'utf8').trim();
  } catch (err) {
    return { ok: false, reason: `${source}: cannot read its token: ${(err as Error).message}` };
  }
  if (!token)
    return {
      ok: false,
      reason: `${source}: the token file is empty (has the token controller filled the Secret yet?)`,
    };
  const caFile = path.join(dir, 'ca.crt');
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [
      {
        name: 'in-cluster',
        server: probe.apiServer,
        skipTLSVerify: false,
        ...(probe.exists(caFile) ? { caFile } : {}),
      },
    ],
    users: [{ name: 'firebreak-ingress', token }],
    contexts: [{ name: 'firebreak-ingress', cluster: 'in-cluster', user: 'firebreak-ingress' }],
    currentContext: 'firebreak-ingress',
  });
  return { ok: true, kubeConfig, source: `${source} (${probe.apiServer})`, ownIdentity: true };
}

function isDirectory(file: string): boolean {
  try {
    return statSync(file).isDirectory();
  } catch {
    return false;
  }
}

export function clusterAccess(
  env: Pick<Env, 'KUBECONFIG' | 'FIREBREAK_INGRESS_KUBECONFIG'>,
  probe: AccessProbe = defaultProbe(),
): ClusterAccess {
  const own = env.FIREBREAK_INGRESS_KUBECONFIG;
  if (own) {
    if (isDirectory(own)) return fromTokenDirectory(own, probe);
    const access = fromFile(own, 'FIREBREAK_INGRESS_KUBECONFIG');
    return access.ok ? { ...access, ownIdentity: true } : access;
  }
  if (env.KUBECONFIG) return fromFile(env.KUBECONFIG, 'KUBECONFIG');
  if (probe.inCluster) {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromCluster();
    return { ok: true, kubeConfig, source: 'the in-cluster service account', ownIdentity: false };
  }
  const userConfig = path.join(probe.home, '.kube', 'config');
  if (probe.exists(userConfig)) return fromFile(userConfig, '~/.kube/config');
  return { ok: false, reason: 'no KUBECONFIG, no in-cluster service account and no ~/.kube/config' };
}

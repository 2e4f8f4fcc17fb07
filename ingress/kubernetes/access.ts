/**
 * Whether the ingress can ask a cluster about pods, and which one: KUBECONFIG, else the in-cluster
 * service account, else ~/.kube/config — kubectl's order. Unlike client-node's loadFromDefault,
 * finding nothing is an answer ("not configured"), not a guess at localhost:8080: the ingress
 * then routes without owner resolution and says so once at start-up.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import type { Env } from '../../config/env';

export type ClusterAccess = { ok: true; kubeConfig: KubeConfig; source: string } | { ok: false; reason: string };

const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export interface AccessProbe {
  exists(file: string): boolean;
  home: string;
  inCluster: boolean;
}

export const defaultProbe = (): AccessProbe => ({
  exists: existsSync,
  home: homedir(),
  inCluster: Boolean(process.env.KUBERNETES_SERVICE_HOST) && existsSync(SERVICE_ACCOUNT_TOKEN),
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
  return { ok: true, kubeConfig, source: `${source} (${cluster.server})` };
}

export function clusterAccess(env: Pick<Env, 'KUBECONFIG'>, probe: AccessProbe = defaultProbe()): ClusterAccess {
  if (env.KUBECONFIG) return fromFile(env.KUBECONFIG, 'KUBECONFIG');
  if (probe.inCluster) {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromCluster();
    return { ok: true, kubeConfig, source: 'the in-cluster service account' };
  }
  const userConfig = path.join(probe.home, '.kube', 'config');
  if (probe.exists(userConfig)) return fromFile(userConfig, '~/.kube/config');
  return { ok: false, reason: 'no KUBECONFIG, no in-cluster service account and no ~/.kube/config' };
}

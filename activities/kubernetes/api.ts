/**
 * The API server as the activities use it: typed clients, the Deployment read and patch every
 * remediation starts from (with kubectl's field manager and server-side dry run), and a raw GET
 * for objects written back whole — client-node's generated models drop fields they do not know,
 * and a rollback must not lose any.
 */
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { request as httpRequest } from 'node:http';
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  Exec,
  setHeaderOptions,
  type KubeConfig,
  type PatchStrategy,
} from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { ErrorType } from '../../common/errors';
import type { Target } from '../../common/types';
import { call, toActivityError, type Access } from './errors';
import { labelSelectorString, type RawDeployment, type RawReplicaSet } from './kubectl';

export const FIELD_MANAGER = 'firebreak';
const REQUEST_TIMEOUT_MS = 30_000;

export type KubeApi = ReturnType<typeof createKubeApi>;

export function createKubeApi(kubeConfig: KubeConfig) {
  const apps = kubeConfig.makeApiClient(AppsV1Api);
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const exec = new Exec(kubeConfig);
  const dryRunOf = (dryRun?: boolean) => (dryRun ? 'All' : undefined);

  const deploymentAccess = (target: Target, verb: string, resource = 'deployments.apps'): Access => ({
    verb,
    resource,
    namespace: target.namespace,
    name: target.deployment,
  });

  const readDeployment = (target: Target) =>
    call(deploymentAccess(target, 'get'), () =>
      apps.readNamespacedDeployment({ name: target.deployment, namespace: target.namespace }),
    );

  const patchDeployment = (target: Target, body: unknown, strategy: PatchStrategy, dryRun?: boolean) =>
    call(deploymentAccess(target, 'patch'), () =>
      apps.patchNamespacedDeployment(
        {
          name: target.deployment,
          namespace: target.namespace,
          body,
          dryRun: dryRunOf(dryRun),
          fieldManager: FIELD_MANAGER,
        },
        setHeaderOptions('Content-Type', strategy),
      ),
    );

  /**
   * GET in the API server's own JSON, for objects we write back: the generated models of
   * client-node drop fields they do not know, and a rollback must not lose any.
   */
  async function getRaw<T>(apiPath: string, access: Access): Promise<T> {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster)
      throw ApplicationFailure.nonRetryable('the kubeconfig has no current cluster', ErrorType.NOT_CONFIGURED);
    const url = new URL(apiPath, cluster.server);
    const options: RequestOptions = {
      method: 'GET',
      headers: { accept: 'application/json' },
      timeout: REQUEST_TIMEOUT_MS,
    };
    await kubeConfig.applyToHTTPSOptions(options);
    const requester = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const answer = await call(
      access,
      () =>
        new Promise<{ status: number; body: string; headers: Record<string, string> }>((resolve, reject) => {
          const req = requester(url, options, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (chunk: Buffer) => chunks.push(chunk));
            res.on('end', () =>
              resolve({
                status: res.statusCode ?? 0,
                body: Buffer.concat(chunks).toString('utf8'),
                headers: Object.fromEntries(Object.entries(res.headers).map(([k, v]) => [k, String(v)])),
              }),
            );
            res.on('error', reject);
          });
          req.on('timeout', () => req.destroy(new Error(`GET ${url.pathname} timed out`)));
          req.on('error', reject);
          req.end();
        }),
    );
    if (answer.status < 200 || answer.status > 299) {
      throw toActivityError(new ApiException(answer.status, 'request failed', answer.body, answer.headers), access);
    }
    return JSON.parse(answer.body) as T;
  }

  async function ownedReplicaSets(deployment: RawDeployment, target: Target): Promise<RawReplicaSet[]> {
    const selector = encodeURIComponent(labelSelectorString(deployment.spec.selector));
    const list = await getRaw<{ items: RawReplicaSet[] }>(
      `/apis/apps/v1/namespaces/${encodeURIComponent(target.namespace)}/replicasets?labelSelector=${selector}`,
      { verb: 'list', resource: 'replicasets.apps', namespace: target.namespace },
    );
    return list.items.filter((rs) =>
      (rs.metadata.ownerReferences ?? []).some((ref) => ref.controller && ref.uid === deployment.metadata.uid),
    );
  }
  return { apps, core, exec, dryRunOf, deploymentAccess, readDeployment, patchDeployment, getRaw, ownedReplicaSets };
}

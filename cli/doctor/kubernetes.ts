/**
 * Kubernetes access, checked the way the API server will judge it: one SelfSubjectAccessReview per
 * verb and resource the runbooks' activities use (deploy/kubernetes/rbac.yaml lists the same), in
 * each namespace asked about.
 */
import { AuthorizationV1Api, KubeConfig } from '@kubernetes/client-node';
import { fail, ok, reason, type CheckResult } from './check';

interface Access {
  group: string;
  resource: string;
  subresource?: string;
  verbs: string[];
  /** Which activities need it, for the fix. */
  usedBy: string;
}

/** Exactly what activities/kubernetes/ sends; keep in step with deploy/kubernetes/rbac.yaml. */
export const RUNBOOK_ACCESS: readonly Access[] = [
  { group: 'apps', resource: 'deployments', verbs: ['get', 'patch'], usedBy: 'every deployment change and read' },
  { group: 'apps', resource: 'deployments', subresource: 'scale', verbs: ['get', 'patch'], usedBy: 'scaleDeployment' },
  { group: 'apps', resource: 'replicasets', verbs: ['list'], usedBy: 'rolloutHistory, rolloutUndo' },
  {
    group: '',
    resource: 'pods',
    verbs: ['get', 'list'],
    usedBy: 'listDeploymentPods, findOomKills, captureHeapProfile',
  },
  { group: '', resource: 'pods', subresource: 'log', verbs: ['get'], usedBy: 'readPodLogs, capturePreviousLogs' },
  {
    group: '',
    resource: 'pods',
    subresource: 'exec',
    verbs: ['create', 'get'],
    usedBy: 'captureHeapProfile (heap profile)',
  },
  { group: '', resource: 'events', verbs: ['list'], usedBy: 'listRecentEvents, findOomKills' },
];

export async function checkKubernetes(
  kubeconfigPath: string | undefined,
  namespaces: string[],
): Promise<CheckResult[]> {
  const area = 'kubernetes';
  const kubeConfig = new KubeConfig();
  try {
    if (kubeconfigPath) kubeConfig.loadFromFile(kubeconfigPath);
    else kubeConfig.loadFromDefault();
    if (!kubeConfig.getCurrentCluster()) throw new Error('no current cluster in the kubeconfig');
  } catch (err) {
    return [fail(area, 'kubeconfig', reason(err), 'set KUBECONFIG to a kubeconfig for the cluster to act on')];
  }
  const api = kubeConfig.makeApiClient(AuthorizationV1Api);
  const where =
    namespaces.length > 0
      ? namespaces
      : [kubeConfig.getContextObject(kubeConfig.currentContext)?.namespace ?? 'default'];
  const reviews = where.flatMap((namespace) =>
    RUNBOOK_ACCESS.flatMap((access) => access.verbs.map((verb) => ({ namespace, access, verb }))),
  );
  const review = async ({ namespace, access, verb }: (typeof reviews)[number]): Promise<CheckResult> => {
    const resource = access.subresource ? `${access.resource}/${access.subresource}` : access.resource;
    const name = `${verb} ${access.group ? `${access.group}/` : ''}${resource} in ${namespace}`;
    const answer = await api.createSelfSubjectAccessReview({
      body: {
        spec: {
          resourceAttributes: {
            namespace,
            verb,
            group: access.group,
            resource: access.resource,
            ...(access.subresource ? { subresource: access.subresource } : {}),
          },
        },
      },
    });
    if (answer.status?.allowed) return ok(area, name, 'allowed');
    return fail(
      area,
      name,
      `denied${answer.status?.reason ? `: ${answer.status.reason}` : ''} (needed by ${access.usedBy})`,
      `grant verb "${verb}" on "${resource}"${access.group ? ` (apiGroup ${access.group})` : ''} in ${namespace}: kubectl apply -f deploy/kubernetes/rbac.yaml`,
    );
  };
  const server = kubeConfig.getCurrentCluster()?.server ?? '?';
  let results: CheckResult[];
  try {
    // One failure to ask (unreachable, bad credentials) is one row, not one per verb.
    results = await Promise.all(reviews.map(review));
  } catch (err) {
    return [
      fail(
        area,
        'API server',
        `${server}: ${reason(err)}`,
        'check KUBECONFIG, that the API server is reachable and the credentials are valid',
      ),
    ];
  }
  const denied = results.filter((r) => r.status !== 'ok');
  return [
    ok(area, 'API server', `${server}; ${results.length - denied.length}/${results.length} accesses allowed`),
    ...denied,
  ];
}

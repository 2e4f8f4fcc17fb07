/**
 * The Kubernetes permissions each runbook's activities need, and the namespace-scoped Roles and
 * RoleBindings `firebreak rbac` prints (deploy/kubernetes/rbac.yaml is the same output, checked
 * for drift by a test). Least privilege: only the listed namespaces, only the selected runbooks'
 * verbs, and `pods/exec` only where OOM triage's heap profile is wanted.
 */
import { stringify } from 'yaml';
import { RUNBOOK_IDS, type RunbookId } from '../common/types';

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

type RuleName = 'deployments' | 'deploymentsScale' | 'replicasets' | 'pods' | 'podLogs' | 'podExec' | 'events';

/** Each rule with the activities that need it; a verb missing makes that activity FORBIDDEN. */
const RULES: Record<RuleName, PolicyRule & { why: string }> = {
  deployments: {
    why: 'every activity reads the Deployment; restart, undo, env, resources and scale patch it',
    apiGroups: ['apps'],
    resources: ['deployments'],
    verbs: ['get', 'patch'],
  },
  deploymentsScale: {
    why: 'scaleDeployment reads and patches the scale subresource',
    apiGroups: ['apps'],
    resources: ['deployments/scale'],
    verbs: ['get', 'patch'],
  },
  replicasets: {
    why: 'rolloutHistory and rolloutUndo find revisions in the ReplicaSets',
    apiGroups: ['apps'],
    resources: ['replicasets'],
    verbs: ['list'],
  },
  pods: {
    why: "listDeploymentPods and findOomKills list the Deployment's pods; captureHeapProfile and capturePreviousLogs read one",
    apiGroups: [''],
    resources: ['pods'],
    verbs: ['get', 'list'],
  },
  podLogs: {
    why: 'readPodLogs and capturePreviousLogs (kubectl logs --previous)',
    apiGroups: [''],
    resources: ['pods/log'],
    verbs: ['get'],
  },
  podExec: {
    why: 'captureHeapProfile (exec streaming the profile out): a WebSocket exec needs get, and create since Kubernetes 1.31',
    apiGroups: [''],
    resources: ['pods/exec'],
    verbs: ['create', 'get'],
  },
  events: { why: 'listRecentEvents and findOomKills', apiGroups: [''], resources: ['events'], verbs: ['list'] },
};

/** What each runbook (with the kernel's restoration of its mitigations) calls. */
const RUNBOOK_RULES: Record<RunbookId, RuleName[]> = {
  'p0-response': ['deployments', 'pods', 'podLogs', 'events'],
  'emergency-rollback': ['deployments', 'replicasets'],
  'avalanche-mitigation': ['deployments', 'deploymentsScale'],
  'oom-triage': ['deployments', 'pods', 'podLogs', 'events'],
};

/** findOomKills also reads the nodes' OOM events, which the kubelet writes to this namespace. */
const NODE_EVENTS_NAMESPACE = 'default';

export interface ServiceAccountRef {
  name: string;
  namespace: string;
}

export interface RbacOptions {
  namespaces: string[];
  runbooks?: RunbookId[];
  /** Namespaces where OOM triage may exec into a pod for a heap profile; none by default. */
  heapProfileNamespaces?: string[];
  /** The worker's identity: it changes Deployments, in the listed namespaces only. */
  serviceAccount?: ServiceAccountRef;
  /** The ingress's identity: reads only, cluster-wide; `<worker name>-ingress` beside the worker's by default. */
  ingressServiceAccount?: ServiceAccountRef;
}

export const DEFAULT_SERVICE_ACCOUNT: ServiceAccountRef = { name: 'firebreak', namespace: 'firebreak' };
const ROLE_NAME = 'firebreak-worker';

/**
 * What the ingress reads to follow an alerting pod to its Deployment (ingress/kubernetes/owners.ts):
 * `get` of one named object, never list, watch or a change. Alerts come from any namespace, so
 * these are cluster-wide — and therefore bound to the ingress's own service account, never the
 * worker's.
 */
export const INGRESS_RULES: readonly PolicyRule[] = [
  { apiGroups: [''], resources: ['pods'], verbs: ['get'] },
  { apiGroups: ['apps'], resources: ['replicasets', 'deployments'], verbs: ['get'] },
  { apiGroups: ['batch'], resources: ['jobs'], verbs: ['get'] },
];

/** The ingress's service account for a worker's: same namespace, name + `-ingress`. */
export function ingressServiceAccountFor(worker: ServiceAccountRef): ServiceAccountRef {
  return { name: `${worker.name}-ingress`, namespace: worker.namespace };
}

/** The Secret holding a long-lived token of the ingress's service account, for a pod that runs as the worker's. */
export function ingressTokenSecretName(ingress: ServiceAccountRef): string {
  return `${ingress.name}-token`;
}

export function rbacRules(runbooks: readonly RunbookId[], heapProfile: boolean): PolicyRule[] {
  const names = new Set(runbooks.flatMap((runbook) => RUNBOOK_RULES[runbook]));
  if (heapProfile && runbooks.includes('oom-triage')) names.add('podExec');
  return (Object.keys(RULES) as RuleName[])
    .filter((name) => names.has(name))
    .map((name) => {
      const { why: _why, ...rule } = RULES[name];
      return rule;
    });
}

/** The manifests, in apply order: namespace and service account, then a Role and RoleBinding per namespace. */
export function rbacManifests(options: RbacOptions): Record<string, unknown>[] {
  const runbooks = options.runbooks ?? [...RUNBOOK_IDS];
  const account = options.serviceAccount ?? DEFAULT_SERVICE_ACCOUNT;
  const ingress = options.ingressServiceAccount ?? ingressServiceAccountFor(account);
  const subject = { kind: 'ServiceAccount', name: account.name, namespace: account.namespace };
  const binding = (namespace: string, role: string) => ({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: role, namespace },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role },
    subjects: [subject],
  });
  const role = (namespace: string, name: string, rules: PolicyRule[]) => ({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: { name, namespace },
    rules,
  });
  const docs: Record<string, unknown>[] = [
    ...[...new Set([account.namespace, ingress.namespace])].map((name) => ({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name },
    })),
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: account.name, namespace: account.namespace } },
  ];
  for (const namespace of [...new Set(options.namespaces)]) {
    const heap = options.heapProfileNamespaces?.includes(namespace) ?? false;
    docs.push(role(namespace, ROLE_NAME, rbacRules(runbooks, heap)), binding(namespace, ROLE_NAME));
  }
  if (runbooks.includes('oom-triage') && !options.namespaces.includes(NODE_EVENTS_NAMESPACE)) {
    const name = 'firebreak-node-oom-events';
    docs.push(
      role(
        NODE_EVENTS_NAMESPACE,
        name,
        [RULES.events].map(({ why: _why, ...rule }) => rule),
      ),
    );
    docs.push(binding(NODE_EVENTS_NAMESPACE, name));
  }
  docs.push(...ingressIdentity(ingress));
  return docs;
}

/** The YAML `firebreak rbac` prints, with the command that made it at the top. */
export function rbacYaml(options: RbacOptions, command: string): string {
  const header = [
    `# Generated by \`${command}\` — do not edit; regenerate for your namespaces.`,
    '# Namespace-scoped Roles for the Firebreak worker: only these namespaces, only the verbs the',
    "# selected runbooks' activities send. pods/exec only where the OOM heap profile is enabled.",
    '# The ingress has a service account of its own with read-only get, cluster-wide, to follow an alerting',
    "# pod to its Deployment; the worker's account gets nothing outside its namespaces. One `firebreak start`",
    "# process holds both: the worker acts as KUBECONFIG (or the pod's account), the ingress as",
    '# FIREBREAK_INGRESS_KUBECONFIG (a kubeconfig, or where the ingress token Secret below is mounted).',
    ...(Object.values(RULES).map((rule) => `#   ${rule.resources.join(',')}: ${rule.why}`) as string[]),
  ];
  const body = rbacManifests(options)
    .map((doc) => stringify(doc, { lineWidth: 0 }))
    .join('---\n');
  return `${header.join('\n')}\n${body}`;
}

/**
 * The ingress's own identity: a service account bound to the read-only ClusterRole, and a Secret
 * the token controller fills with a token of it — the one way a pod running as the worker's account
 * can also hold the ingress's (mounted, pointed at by FIREBREAK_INGRESS_KUBECONFIG). A process that
 * runs outside the cluster takes a kubeconfig for the account instead and may ignore the Secret.
 */
function ingressIdentity(account: ServiceAccountRef): Record<string, unknown>[] {
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: account.name, namespace: account.namespace } },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'kubernetes.io/service-account-token',
      metadata: {
        name: ingressTokenSecretName(account),
        namespace: account.namespace,
        annotations: { 'kubernetes.io/service-account.name': account.name },
      },
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'firebreak-ingress' },
      rules: INGRESS_RULES.map((rule) => ({ ...rule })),
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'firebreak-ingress' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'firebreak-ingress' },
      subjects: [{ kind: 'ServiceAccount', name: account.name, namespace: account.namespace }],
    },
  ];
}

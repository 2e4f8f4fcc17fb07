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

export interface RbacOptions {
  namespaces: string[];
  runbooks?: RunbookId[];
  /** Namespaces where OOM triage may exec into a pod for a heap profile; none by default. */
  heapProfileNamespaces?: string[];
  serviceAccount?: { name: string; namespace: string };
}

export const DEFAULT_SERVICE_ACCOUNT = { name: 'firebreak', namespace: 'firebreak' };
const ROLE_NAME = 'firebreak-worker';

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
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: account.namespace } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: account.name, namespace: account.namespace } },
  ];
  for (const namespace of [...new Set(options.namespaces)]) {
    const heap = options.heapProfileNamespaces?.includes(namespace) ?? false;
    docs.push(role(namespace, ROLE_NAME, rbacRules(runbooks, heap)), binding(namespace, ROLE_NAME));
  }
  docs.push(...ingressRole(subject));
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
  return docs;
}

/** The YAML `firebreak rbac` prints, with the command that made it at the top. */
export function rbacYaml(options: RbacOptions, command: string): string {
  const header = [
    `# Generated by \`${command}\` — do not edit; regenerate for your namespaces.`,
    '# Namespace-scoped Roles for the Firebreak worker: only these namespaces, only the verbs the',
    "# selected runbooks' activities send. pods/exec only where the OOM heap profile is enabled.",
    '# firebreak-ingress: read-only get, cluster-wide, to follow an alerting pod to its Deployment.',
    ...(Object.values(RULES).map((rule) => `#   ${rule.resources.join(',')}: ${rule.why}`) as string[]),
  ];
  const body = rbacManifests(options)
    .map((doc) => stringify(doc, { lineWidth: 0 }))
    .join('---\n');
  return `${header.join('\n')}\n${body}`;
}

/**
 * The ingress follows an alerting pod to its Deployment (ingress/kubernetes/owners.ts) wherever the
 * alert comes from: read-only `get` on pods, ReplicaSets, Deployments and Jobs, cluster-wide. It
 * changes nothing; the worker's rights above stay namespace-scoped.
 */
function ingressRole(subject: { kind: string; name: string; namespace: string }): Record<string, unknown>[] {
  return [
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'firebreak-ingress' },
      rules: [
        { apiGroups: [''], resources: ['pods'], verbs: ['get'] },
        { apiGroups: ['apps'], resources: ['replicasets', 'deployments'], verbs: ['get'] },
        { apiGroups: ['batch'], resources: ['jobs'], verbs: ['get'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'firebreak-ingress' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'firebreak-ingress' },
      subjects: [subject],
    },
  ];
}

/**
 * `firebreak rbac`: the least-privilege Kubernetes Roles for the worker, and the ingress's read-only
 * identity of its own, to pipe into kubectl apply.
 */
import { RUNBOOK_IDS, type RunbookId } from '../../common/types';
import { DEFAULT_SERVICE_ACCOUNT, rbacYaml, type ServiceAccountRef } from '../../runbooks/rbac';
import { noPositionals } from '../args';
import { UsageError, type Command } from '../context';

const NAMESPACE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function list(value: unknown, flag: string, usage: string): string[] {
  const items =
    typeof value === 'string'
      ? value
          .split(',')
          .map((item) => item.trim())
          .filter(Boolean)
      : [];
  const bad = items.find((item) => !NAMESPACE.test(item));
  if (bad) throw new UsageError(`--${flag}: "${bad}" is not a namespace or runbook name`, usage);
  return items;
}

function account(value: unknown, flag: string, usage: string): ServiceAccountRef | undefined {
  if (typeof value !== 'string') return undefined;
  const [namespace, name, extra] = value.split('/');
  if (!namespace || !name || extra !== undefined || !NAMESPACE.test(namespace) || !NAMESPACE.test(name)) {
    throw new UsageError(`--${flag} is <namespace>/<name>`, usage);
  }
  return { namespace, name };
}

export const rbac: Command = {
  name: 'rbac',
  summary: "Print the worker's namespace-scoped Kubernetes Roles and the ingress's read-only identity",
  usage:
    'firebreak rbac --namespaces <a,b> [--runbooks <id,id>] [--heap-profile <a,b>] [--service-account <ns>/<name>]\n' +
    '               [--ingress-service-account <ns>/<name>]\n' +
    '  --heap-profile: namespaces where OOM triage may exec into pods for a heap profile (pods/exec)\n' +
    "  --service-account: the worker's (default firebreak/firebreak); it gets nothing outside --namespaces\n" +
    "  --ingress-service-account: the ingress's, read-only get cluster-wide (default <worker's>-ingress);\n" +
    '    give its credential to the ingress with FIREBREAK_INGRESS_KUBECONFIG (docs/security.md)',
  options: {
    namespaces: { type: 'string' },
    runbooks: { type: 'string' },
    'heap-profile': { type: 'string' },
    'service-account': { type: 'string' },
    'ingress-service-account': { type: 'string' },
  },
  async run(ctx, args) {
    noPositionals(this, args);
    const namespaces = list(args.values.namespaces, 'namespaces', this.usage);
    if (namespaces.length === 0) throw new UsageError('--namespaces is required', this.usage);
    const runbooks = list(args.values.runbooks, 'runbooks', this.usage);
    const unknown = runbooks.find((id) => !(RUNBOOK_IDS as readonly string[]).includes(id));
    if (unknown) throw new UsageError(`unknown runbook ${unknown}; one of ${RUNBOOK_IDS.join(', ')}`, this.usage);
    const heapProfile = list(args.values['heap-profile'], 'heap-profile', this.usage);
    const outside = heapProfile.find((ns) => !namespaces.includes(ns));
    if (outside) throw new UsageError(`--heap-profile ${outside} is not one of --namespaces`, this.usage);
    const serviceAccount = account(args.values['service-account'], 'service-account', this.usage);
    const ingressServiceAccount = account(
      args.values['ingress-service-account'],
      'ingress-service-account',
      this.usage,
    );
    if (
      ingressServiceAccount &&
      ingressServiceAccount.name === (serviceAccount ?? DEFAULT_SERVICE_ACCOUNT).name &&
      ingressServiceAccount.namespace === (serviceAccount ?? DEFAULT_SERVICE_ACCOUNT).namespace
    ) {
      throw new UsageError(
        "--ingress-service-account must differ from the worker's: its cluster-wide reads would be the worker's too",
        this.usage,
      );
    }
    const command = ['firebreak rbac', `--namespaces ${namespaces.join(',')}`]
      .concat(runbooks.length ? [`--runbooks ${runbooks.join(',')}`] : [])
      .concat(heapProfile.length ? [`--heap-profile ${heapProfile.join(',')}`] : [])
      .concat(serviceAccount ? [`--service-account ${serviceAccount.namespace}/${serviceAccount.name}`] : [])
      .concat(
        ingressServiceAccount
          ? [`--ingress-service-account ${ingressServiceAccount.namespace}/${ingressServiceAccount.name}`]
          : [],
      )
      .join(' ');
    ctx.io.stdout(
      rbacYaml(
        {
          namespaces,
          ...(runbooks.length ? { runbooks: runbooks as RunbookId[] } : {}),
          heapProfileNamespaces: heapProfile,
          ...(serviceAccount ? { serviceAccount } : {}),
          ...(ingressServiceAccount ? { ingressServiceAccount } : {}),
        },
        command,
      ),
    );
    return 0;
  },
};

/** `firebreak rbac`: the least-privilege Kubernetes Roles for the worker, to pipe into kubectl apply. */
import { RUNBOOK_IDS, type RunbookId } from '../../common/types';
import { DEFAULT_SERVICE_ACCOUNT, rbacYaml } from '../../runbooks/rbac';
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

export const rbac: Command = {
  name: 'rbac',
  summary: 'Print the namespace-scoped Kubernetes Roles and RoleBindings the worker needs',
  usage:
    'firebreak rbac --namespaces <a,b> [--runbooks <id,id>] [--heap-profile <a,b>] [--service-account <ns>/<name>]\n' +
    '  --heap-profile: namespaces where OOM triage may exec into pods for a heap profile (pods/exec)',
  options: {
    namespaces: { type: 'string' },
    runbooks: { type: 'string' },
    'heap-profile': { type: 'string' },
    'service-account': { type: 'string' },
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
    let serviceAccount = DEFAULT_SERVICE_ACCOUNT;
    if (typeof args.values['service-account'] === 'string') {
      const [namespace, name] = args.values['service-account'].split('/');
      if (!namespace || !name || !NAMESPACE.test(namespace) || !NAMESPACE.test(name)) {
        throw new UsageError('--service-account is <namespace>/<name>', this.usage);
      }
      serviceAccount = { namespace, name };
    }
    const command = ['firebreak rbac', `--namespaces ${namespaces.join(',')}`]
      .concat(runbooks.length ? [`--runbooks ${runbooks.join(',')}`] : [])
      .concat(heapProfile.length ? [`--heap-profile ${heapProfile.join(',')}`] : [])
      .join(' ');
    ctx.io.stdout(
      rbacYaml(
        {
          namespaces,
          ...(runbooks.length ? { runbooks: runbooks as RunbookId[] } : {}),
          heapProfileNamespaces: heapProfile,
          serviceAccount,
        },
        command,
      ),
    );
    return 0;
  },
};

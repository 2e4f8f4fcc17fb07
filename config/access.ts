/**
 * The `people` and `permissions` sections of the config file: zod schemas that turn them into the
 * AccessPolicy the starters and the kernel enforce (common/access.ts). A subject naming no known
 * person, or a malformed one, fails the load with its path, like any other bad config.
 */
import { z } from 'zod';
import { OPEN_ACCESS, type AccessPolicy } from '../common/access';

const SUBJECT_SYNTAX = /^(\*|[UWS][A-Z0-9]{2,}|cli:[\w.@-]+|route:[^\s].*|[a-z][\w.-]*)$/;

const subject = z
  .string()
  .regex(
    SUBJECT_SYNTAX,
    'must be *, a Slack user (U…/W…) or user group (S…), cli:<name>, route:<name>, or a person of `people`',
  );
const subjects = z.array(subject).min(1);
const namespacePatterns = z.array(z.string().regex(/^[a-z0-9*]([-a-z0-9*]*[a-z0-9*])?$/, 'not a namespace pattern'));
/**
 * A built-in runbook or a runbook file, by id or alias, or `*`. Runbook files load after the config
 * file, so the names are checked then (resolvePermissionRunbooks), still before anything starts.
 */
const runbooks = z.array(z.string().regex(/^(\*|[a-z][a-z0-9-]*)$/, 'a runbook id or alias (kebab-case), or *'));

const personSchema = z.strictObject({
  slack: z
    .string()
    .regex(/^[UW][A-Z0-9]{2,}$/, 'must be a Slack user id (U…/W…)')
    .optional(),
  cli: z
    .string()
    .regex(/^[\w.@-]+$/, 'a CLI user name (no cli: prefix)')
    .optional(),
  email: z.email().optional(),
});

export const peopleSchema = z.record(z.string().regex(/^[a-z][\w.-]*$/, 'person names are lower-case'), personSchema);

export const permissionsSchema = z.strictObject({
  start: z
    .array(z.strictObject({ runbooks: runbooks.optional(), namespaces: namespacePatterns.optional(), who: subjects }))
    .optional(),
  approve: z
    .array(
      z.strictObject({
        gates: z.array(z.string().min(1)).optional(),
        runbooks: runbooks.optional(),
        namespaces: namespacePatterns.optional(),
        who: subjects,
        quorum: z.number().int().min(1).max(10).optional(),
      }),
    )
    .optional(),
  acknowledge: subjects.optional(),
  resolve: subjects.optional(),
  cancel: subjects.optional(),
  cli: z
    .strictObject({
      /** CLI decisions on four-eyes/quorum gates need an identity the Temporal connection proves. */
      requireProvenIdentity: z.boolean().default(false),
    })
    .default({ requireProvenIdentity: false }),
});

export type PeopleConfig = z.infer<typeof peopleSchema>;
export type PermissionsConfig = z.infer<typeof permissionsSchema>;

/** Names used as subjects must be people of the identity map (a typo must not silently match nobody). */
export function checkSubjects(
  people: PeopleConfig,
  permissions: PermissionsConfig | undefined,
  ctx: z.RefinementCtx,
): void {
  if (!permissions) return;
  const visit = (list: readonly string[] | undefined, path: (string | number)[]) =>
    list?.forEach((name, index) => {
      if (/^[a-z]/.test(name) && !name.startsWith('cli:') && !name.startsWith('route:') && !(name in people)) {
        ctx.addIssue({ code: 'custom', path: [...path, index], message: `${name} is not a person of \`people\`` });
      }
    });
  permissions.start?.forEach((rule, i) => visit(rule.who, ['permissions', 'start', i, 'who']));
  permissions.approve?.forEach((rule, i) => {
    visit(rule.who, ['permissions', 'approve', i, 'who']);
    if ((rule.quorum ?? 1) > 1 && rule.who.includes('*')) return;
    const named = rule.who.filter((s) => !/^S/.test(s)).length;
    if (!rule.who.some((s) => /^S/.test(s)) && named < (rule.quorum ?? 1)) {
      ctx.addIssue({
        code: 'custom',
        path: ['permissions', 'approve', i, 'quorum'],
        message: `quorum ${rule.quorum} is more than the ${named} subjects who may approve`,
      });
    }
  });
  for (const action of ['acknowledge', 'resolve', 'cancel'] as const)
    visit(permissions[action], ['permissions', action]);
}

export function accessPolicy(people: PeopleConfig, permissions: PermissionsConfig | undefined): AccessPolicy {
  if (!permissions) return { ...OPEN_ACCESS, people };
  const { cli, ...actions } = permissions;
  return {
    people,
    requireProvenCliIdentity: cli.requireProvenIdentity,
    ...Object.fromEntries(Object.entries(actions).filter(([, value]) => value !== undefined)),
  };
}

/** The runbooks a name may denote: the built-in ones and the runbook files that loaded. */
export interface RunbookCatalog {
  /** By id or alias (a built-in runbook's slash name is one). */
  find: (name: string) => { id: string } | undefined;
  /** The ids, for the error message. */
  names: readonly string[];
}

/**
 * `permissions.start[].runbooks` and `permissions.approve[].runbooks` checked against the catalog,
 * an alias replaced by its runbook's id (the starters and the kernel compare ids). Each unknown name
 * is a problem naming its path, for the caller's ConfigError (exit 2): a grant that matches no
 * runbook must not wait for someone to be refused to say so.
 */
export function resolvePermissionRunbooks(
  permissions: PermissionsConfig | undefined,
  catalog: RunbookCatalog,
): { permissions: PermissionsConfig | undefined; problems: string[] } {
  const problems: string[] = [];
  if (!permissions) return { permissions, problems };
  const resolve = (names: string[] | undefined, path: string): string[] | undefined =>
    names?.map((name, index) => {
      if (name === '*') return name;
      const found = catalog.find(name);
      if (found) return found.id;
      problems.push(
        `  ${path}.runbooks.${index}: unknown runbook "${name}"; one of ${catalog.names.join(', ')}` +
          ' (a runbook file that failed validation is skipped)',
      );
      return name;
    });
  const withIds = <R extends { runbooks?: string[] }>(rule: R, path: string): R =>
    rule.runbooks ? { ...rule, runbooks: resolve(rule.runbooks, path) } : rule;
  const resolved: PermissionsConfig = {
    ...permissions,
    ...(permissions.start
      ? { start: permissions.start.map((rule, i) => withIds(rule, `permissions.start.${i}`)) }
      : {}),
    ...(permissions.approve
      ? { approve: permissions.approve.map((rule, i) => withIds(rule, `permissions.approve.${i}`)) }
      : {}),
  };
  return { permissions: resolved, problems };
}

/** Said once at start-up: what anyone may do because nobody restricted it. */
export function openAccessWarning(
  permissions: PermissionsConfig | undefined,
  approverCount: number,
): string | undefined {
  if (!permissions) {
    return (
      'No permissions configured (FIREBREAK_CONFIG permissions): anyone in the Slack workspace, any CLI user and any ' +
      `alert route may start every runbook in every namespace${approverCount === 0 ? ' and decide every gate' : ''}`
    );
  }
  const open = (['start', 'approve', 'acknowledge', 'resolve', 'cancel'] as const).filter((action) =>
    action === 'approve' ? !permissions.approve && approverCount === 0 : !permissions[action],
  );
  return open.length ? `permissions leave open to anyone: ${open.join(', ')}` : undefined;
}

/**
 * The access rules, pure and sandbox-safe: whether an actor (or an alert route) matches a subject,
 * which person an account belongs to, who may start a runbook where, and the approval rule of a
 * gate. The ingress and the CLI ask before starting; the kernel asks before deciding.
 */
import type { AccessAction, AccessPolicy, ApproveRule, PersonIdentity } from '../common/access';
import type { Actor } from '../common/types';

/** `prod-*` → every namespace starting with `prod-`; no other metacharacters. */
export function globMatches(pattern: string, value: string): boolean {
  if (pattern === '*') return true;
  const parts = pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${parts.join('.*')}$`).test(value);
}

/** The person an account id (`U…`, `cli:<name>`, `route:<name>`) belongs to; the id itself when unmapped. */
export function personOf(accountId: string, people: Record<string, PersonIdentity> | undefined): string {
  for (const [person, identity] of Object.entries(people ?? {})) {
    if (identity.slack !== undefined && identity.slack === accountId) return `person:${person}`;
    if (identity.cli !== undefined && `cli:${identity.cli}` === accountId) return `person:${person}`;
  }
  return accountId;
}

export function samePerson(
  a: Actor | undefined,
  b: Actor | undefined,
  people?: Record<string, PersonIdentity>,
): boolean {
  if (!a || !b) return false;
  return personOf(a.id, people) === personOf(b.id, people);
}

/** Whether the actor is one of the subjects (Slack groups through `actor.groups`, resolved by the ingress). */
export function actorMatches(
  actor: Actor,
  subjects: readonly string[],
  people?: Record<string, PersonIdentity>,
): boolean {
  const person = personOf(actor.id, people);
  return subjects.some(
    (subject) =>
      subject === '*' ||
      subject === actor.id ||
      (person.startsWith('person:') && `person:${subject}` === person) ||
      (/^S[A-Z0-9]+$/.test(subject) && (actor.groups ?? []).includes(subject)),
  );
}

/** Every Slack user group the policy names: the ingress resolves an actor's membership in these. */
export function referencedGroups(access: AccessPolicy | undefined, extra: readonly string[] = []): string[] {
  const subjects = [
    ...(access?.start ?? []).flatMap((rule) => rule.who),
    ...(access?.approve ?? []).flatMap((rule) => rule.who),
    ...(access?.acknowledge ?? []),
    ...(access?.resolve ?? []),
    ...(access?.cancel ?? []),
    ...extra,
  ];
  return [...new Set(subjects.filter((subject) => /^S[A-Z0-9]+$/.test(subject)))];
}

interface Scope {
  runbook: string;
  namespaces: readonly string[];
}

function inScope(rule: { runbooks?: string[]; namespaces?: string[] }, scope: Scope): boolean {
  if (rule.runbooks && !rule.runbooks.includes(scope.runbook) && !rule.runbooks.includes('*')) return false;
  const patterns = rule.namespaces;
  return !patterns || scope.namespaces.every((ns) => patterns.some((pattern) => globMatches(pattern, ns)));
}

/** Whether the actor (or alert route `route:<name>`) may start the runbook on every one of the namespaces. */
export function mayStart(access: AccessPolicy | undefined, actor: Actor, scope: Scope): boolean {
  if (!access?.start) return true;
  return access.start.some((rule) => inScope(rule, scope) && actorMatches(actor, rule.who, access.people));
}

/** For acknowledge, resolve and cancel: an unconfigured action stays open. */
export function mayAct(
  access: AccessPolicy | undefined,
  action: Exclude<AccessAction, 'start' | 'approve'>,
  actor: Actor,
): boolean {
  const subjects = access?.[action];
  return !subjects || actorMatches(actor, subjects, access.people);
}

/** The rule that governs a gate on this incident: the first that matches, if any. */
export function gateRule(
  access: AccessPolicy | undefined,
  gate: string,
  scope: Scope,
): Pick<ApproveRule, 'who' | 'quorum'> | undefined {
  return (access?.approve ?? []).find(
    (rule) => (!rule.gates || rule.gates.includes(gate) || rule.gates.includes('*')) && inScope(rule, scope),
  );
}

/** The actions that nobody restricted, for the start-up warning. */
export function openActions(access: AccessPolicy | undefined): AccessAction[] {
  if (!access) return ['start', 'approve', 'acknowledge', 'resolve', 'cancel'];
  return (['start', 'approve', 'acknowledge', 'resolve', 'cancel'] as const).filter(
    (action) => access[action] === undefined,
  );
}

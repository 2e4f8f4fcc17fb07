/**
 * Routing an alert group all the way to Deployments: the matched rule (routing.ts) says, per
 * alert, a Deployment or a pod; pods are followed to the Deployment that controls them
 * (ingress/kubernetes/owners.ts). Bounded per notification whatever its size: pods that a
 * ReplicaSet named alike share one lookup, at most MAX_OWNER_LOOKUPS lookups happen, and all of
 * them within OWNER_LOOKUP_DEADLINE_MS — a group of 5,000 crash-looping pods of one Deployment
 * costs one lookup (none while the answer is cached).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseTarget } from '../../common/ids';
import type { RunbookName, Severity, Target } from '../../common/types';
import type { RouteRule } from '../../config/routes';
import { findRunbook } from '../../runbooks';
import type { AlertInstance } from '../../domain/messages';
import { describeOwner, replicaSetOfPodName, type OwnerResolver, type PodOwner } from '../kubernetes/owners';
import { matchAlertGroup, ruleParams, ruleSeverity, targetRef } from './routing';

export const MAX_OWNER_LOOKUPS = 8;
export const OWNER_LOOKUP_DEADLINE_MS = 3_000;
/** A multi-target runbook acts on at most this many Deployments per incident. */
export const MAX_TARGETS = 10;
const MAX_REASONS_SHOWN = 3;

export interface RouteDecision {
  via: string;
  runbook: RunbookName;
  targets: Target[];
  severity?: Severity;
  params: Record<string, string>;
  /** The alert whose labels supplied the (first) target and the parameters. */
  alert: AlertInstance;
  /** How pods were followed to Deployments, and what was left out: said to the sender. */
  notes: string[];
}

export type RouteOutcome =
  | { kind: 'routed'; decision: RouteDecision }
  /** No rule applies: the group is acknowledged and ignored. */
  | { kind: 'unmatched'; reason: string }
  /** A rule applies but no alert leads to a Deployment; `transient` when asking again may help. */
  | { kind: 'unusable'; via: string; reason: string; transient: boolean };

export interface RoutingTables {
  rules: readonly RouteRule[];
  defaults: readonly RouteRule[];
  /** Follows pods to Deployments; null when no cluster is configured (`ownersOff` says why). */
  owners: OwnerResolver | null;
  ownersOff?: string;
}

function notFollowed(namespace: string, pod: string, owner: PodOwner): string {
  if (owner.kind === 'workload') {
    return `pod ${namespace}/${pod}: owner is ${describeOwner(owner)}; no runbook handles ${owner.ownerKind}s (runbooks act on Deployments)`;
  }
  if (owner.kind === 'unowned')
    return `pod ${namespace}/${pod} has no controller (a bare pod); runbooks act on Deployments`;
  return `pod ${namespace}/${pod}: ${owner.kind === 'unresolved' ? owner.reason : describeOwner(owner)}`;
}

function summarise(lines: string[]): string {
  const distinct = [...new Set(lines)];
  const more = distinct.length - MAX_REASONS_SHOWN;
  return distinct.slice(0, MAX_REASONS_SHOWN).join('; ') + (more > 0 ? `; and ${more} more` : '');
}

export async function routeAlertGroup(alerts: AlertInstance[], tables: RoutingTables): Promise<RouteOutcome> {
  const match = matchAlertGroup(alerts, tables);
  if (match.kind === 'unmatched') return match;
  const { rule, via } = match;
  const wanted = findRunbook(rule.runbook)?.multiTarget ? MAX_TARGETS : 1;

  const chosen: { target: Target; alert: AlertInstance }[] = [];
  const problems: string[] = [];
  const notes = new Set<string>();
  const lookups = new Map<string, Promise<PodOwner | 'late'>>();
  let transient = false;
  let unfollowed = 0;
  const done = new AbortController();
  const late = sleep(OWNER_LOOKUP_DEADLINE_MS, 'late' as const, { signal: done.signal }).catch(() => 'late' as const);

  try {
    for (const alert of match.alerts) {
      if (chosen.length >= wanted) break;
      const ref = targetRef(rule, alert);
      let name: string;
      if (ref.kind === 'problem') {
        problems.push(ref.problem);
        continue;
      } else if (ref.kind === 'deployment') {
        name = ref.deployment;
      } else if (!tables.owners) {
        problems.push(
          `alert ${alert.fingerprint} has no label deployment for the target; its pod ${ref.namespace}/${ref.pod} ` +
            `is not followed to its Deployment: ${tables.ownersOff ?? 'no Kubernetes cluster is configured'}`,
        );
        continue;
      } else {
        const key = `${ref.namespace}/${replicaSetOfPodName(ref.pod, ref.podTemplateHash) ?? ref.pod}`;
        let lookup = lookups.get(key);
        if (!lookup) {
          if (lookups.size >= MAX_OWNER_LOOKUPS) {
            unfollowed += 1;
            continue;
          }
          const hints = ref.podTemplateHash ? { podTemplateHash: ref.podTemplateHash } : {};
          lookup = Promise.race([tables.owners.podOwner(ref.namespace, ref.pod, hints), late]);
          lookups.set(key, lookup);
        }
        const owner = await lookup;
        if (owner === 'late') {
          transient = true;
          unfollowed += 1;
          continue;
        }
        if (owner.kind !== 'deployment') {
          transient ||= owner.kind === 'unresolved' && owner.transient;
          problems.push(notFollowed(ref.namespace, ref.pod, owner));
          continue;
        }
        name = owner.name;
        notes.add(
          `pod ${ref.namespace}/${ref.pod} → Deployment ${owner.name} (ReplicaSet ${owner.replicaSet})` +
            (owner.note ? `: ${owner.note}` : ''),
        );
      }
      const target = parseTarget(`${ref.namespace}/${name}`);
      if (!target) {
        problems.push(`alert ${alert.fingerprint} names ${ref.namespace}/${name}, not a valid namespace/deployment`);
      } else if (!chosen.some((c) => c.target.namespace === target.namespace && c.target.deployment === name)) {
        chosen.push({ target, alert });
      }
    }
  } finally {
    done.abort();
  }

  if (unfollowed > 0) {
    problems.unshift(
      `${unfollowed} alert(s) not followed to a Deployment (at most ${MAX_OWNER_LOOKUPS} lookups ` +
        `within ${OWNER_LOOKUP_DEADLINE_MS / 1000} s per notification)`,
    );
  }
  const [first] = chosen;
  if (!first) return { kind: 'unusable', via, reason: `not routed: ${summarise(problems)}`, transient };
  const severity = ruleSeverity(rule, first.alert);
  return {
    kind: 'routed',
    decision: {
      via,
      runbook: rule.runbook,
      targets: chosen.map((c) => c.target),
      ...(severity ? { severity } : {}),
      params: ruleParams(rule, first.alert),
      alert: first.alert,
      notes: [...notes].slice(0, MAX_REASONS_SHOWN).concat(problems.length > 0 ? [summarise(problems)] : []),
    },
  };
}

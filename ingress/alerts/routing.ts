/**
 * Which runbook an alert group goes to, and where each of its alerts points: the configured rules
 * first (first match wins), then the default routing table, then the catalog's own alert hints.
 * Pure code over parsed payloads, so every rule reads and tests alone; following pods to their
 * Deployments (which needs the cluster) is targets.ts.
 */
import type { Severity } from '../../common/types';
import type { LabelMatcher, RouteRule, ValueSource } from '../../config/routes';
import { runbooksForAlert } from '../../runbooks';
import type { AlertInstance } from '../../domain/messages';

/** The rule a group matched and its alerts that match it, firing first. */
export interface RouteMatch {
  kind: 'matched';
  /** `rule <name>`, `default <name>` or `catalog hint of <runbook>`: said in logs and answers. */
  via: string;
  rule: RouteRule;
  alerts: AlertInstance[];
}

export type MatchOutcome = RouteMatch | { kind: 'unmatched'; reason: string };

/** Where one alert says the runbook should act. */
export type TargetRef =
  | { kind: 'deployment'; alert: AlertInstance; namespace: string; deployment: string }
  | { kind: 'pod'; alert: AlertInstance; namespace: string; pod: string; podTemplateHash?: string }
  | { kind: 'problem'; alert: AlertInstance; problem: string };

export function matchesLabel(matcher: LabelMatcher, value: string | undefined): boolean {
  const text = value ?? '';
  switch (matcher.kind) {
    case 'equal':
      return text === matcher.value;
    case 'notEqual':
      return text !== matcher.value;
    case 'regex':
      return matcher.pattern.test(text);
    case 'notRegex':
      return !matcher.pattern.test(text);
  }
}

export function ruleMatches(rule: RouteRule, labels: Record<string, string>): boolean {
  return Object.entries(rule.match).every(([name, matcher]) => matchesLabel(matcher, labels[name]));
}

export function ruleName(rule: RouteRule, index: number): string {
  return rule.name ?? `#${index + 1}`;
}

/** Reads a value from an alert; undefined when the label/annotation is absent or the regex does not match. */
export function readValue(source: ValueSource, alert: AlertInstance): string | undefined {
  if ('value' in source) return source.value;
  const raw = 'label' in source ? alert.labels[source.label] : alert.annotations[source.annotation];
  if (raw === undefined || raw === '') return undefined;
  if (!source.regex) return raw;
  const match = source.regex.exec(raw);
  if (!match) return undefined;
  return match[1] ?? match[0];
}

function describeSource(source: ValueSource): string {
  if ('value' in source) return `the literal ${JSON.stringify(source.value)}`;
  const where = 'label' in source ? `label ${source.label}` : `annotation ${source.annotation}`;
  return source.regex ? `${where} (matching ${source.regex.source})` : where;
}

/**
 * Alerts to consider, firing ones first: a resolved alert still routes its group (the incident
 * must hear of the resolution) but should not choose the target when a firing one can.
 */
function byRelevance(alerts: AlertInstance[]): AlertInstance[] {
  return [...alerts.filter((a) => a.status === 'firing'), ...alerts.filter((a) => a.status !== 'firing')];
}

/** A catalog hint as a rule: the runbook, with the target from the usual labels. */
function hintRule(runbook: RouteRule['runbook']): RouteRule {
  return {
    match: {},
    runbook,
    namespace: { label: 'namespace' },
    deployment: { label: 'deployment' },
    pod: { label: 'pod' },
    params: {},
  };
}

/**
 * The group's rule is the first configured rule, in file order, that matches any of its alerts;
 * then the first default; then the first alert a runbook's hints recognise.
 */
export function matchAlertGroup(
  alerts: AlertInstance[],
  tables: { rules: readonly RouteRule[]; defaults: readonly RouteRule[] },
): MatchOutcome {
  const ordered = byRelevance(alerts);
  const tried: [string, readonly RouteRule[]][] = [
    ['rule', tables.rules],
    ['default', tables.defaults],
  ];
  for (const [kind, rules] of tried) {
    for (const [index, rule] of rules.entries()) {
      const matching = ordered.filter((alert) => ruleMatches(rule, alert.labels));
      if (matching.length > 0) {
        const name = ruleName(rule, index);
        return { kind: 'matched', via: kind === 'default' ? name : `rule ${name}`, rule, alerts: matching };
      }
    }
  }
  for (const alert of ordered) {
    const [hinted] = runbooksForAlert(alert.labels);
    if (!hinted) continue;
    const matching = ordered.filter((candidate) => runbooksForAlert(candidate.labels)[0]?.id === hinted.id);
    return { kind: 'matched', via: `catalog hint of ${hinted.id}`, rule: hintRule(hinted.id), alerts: matching };
  }
  const names = [...new Set(alerts.map((a) => a.labels.alertname ?? '(no alertname)'))].slice(0, 10).join(', ');
  const none = tables.rules.length === 0 ? ' (none configured)' : 's';
  return { kind: 'unmatched', reason: `no routing rule${none}, default route or runbook hint matches alerts ${names}` };
}

/** Where the rule says this alert points: a Deployment by name, or a pod to follow to one. */
export function targetRef(rule: RouteRule, alert: AlertInstance): TargetRef {
  const namespace = readValue(rule.namespace, alert);
  if (namespace === undefined) {
    return {
      kind: 'problem',
      alert,
      problem: `alert ${alert.fingerprint} has no ${describeSource(rule.namespace)} for the target`,
    };
  }
  const deployment = readValue(rule.deployment, alert);
  if (deployment !== undefined) return { kind: 'deployment', alert, namespace, deployment };
  const pod = readValue(rule.pod, alert);
  if (pod !== undefined) {
    const hash = alert.labels.pod_template_hash ?? alert.labels.label_pod_template_hash;
    return { kind: 'pod', alert, namespace, pod, ...(hash ? { podTemplateHash: hash } : {}) };
  }
  return {
    kind: 'problem',
    alert,
    problem: `alert ${alert.fingerprint} has no ${describeSource(rule.deployment)} for the target, nor a ${describeSource(rule.pod)} to follow to one`,
  };
}

/** The rule's parameters as the chosen alert fills them; a source that yields nothing leaves the default. */
export function ruleParams(rule: RouteRule, alert: AlertInstance): Record<string, string> {
  const params: Record<string, string> = {};
  for (const [name, source] of Object.entries(rule.params)) {
    const value = readValue(source, alert);
    if (value !== undefined) params[name] = value;
  }
  return params;
}

export function ruleSeverity(rule: RouteRule, alert: AlertInstance): Severity | undefined {
  const mapping = rule.severity;
  if (mapping === undefined || typeof mapping === 'string') return mapping;
  const label = alert.labels[mapping.label];
  return (label !== undefined ? mapping.map[label] : undefined) ?? mapping.default;
}

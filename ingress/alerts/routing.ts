/**
 * Routing an alert group to a runbook: the configured rules first (first match wins), then the
 * catalog's own alert hints. Pure code over parsed payloads, so every rule reads and tests alone.
 */
import { parseTarget } from '../../common/ids';
import type { RunbookId, Severity, Target } from '../../common/types';
import type { LabelMatcher, RouteRule, ValueSource } from '../../config/routes';
import { runbooksForAlert, findRunbook } from '../../runbooks';
import type { AlertInstance } from '../../domain/messages';

export interface RouteDecision {
  /** `rule <name>` or `catalog hint`: said in logs and metrics. */
  via: string;
  runbook: RunbookId;
  targets: Target[];
  severity?: Severity;
  params: Record<string, string>;
  /** The alert whose labels supplied the target and parameters. */
  alert: AlertInstance;
}

export type RouteOutcome =
  | { kind: 'routed'; decision: RouteDecision }
  /** No rule applies: the group is acknowledged and ignored. */
  | { kind: 'unmatched'; reason: string }
  /** A rule applies but the alert cannot fill it (no namespace label...): acknowledged, not started. */
  | { kind: 'unusable'; via: string; reason: string };

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

/**
 * The group's rule is the first rule, in file order, that matches any of its alerts; the first
 * such alert (firing preferred) fills the target and parameters. Multi-target runbooks take every
 * distinct target the group's matching alerts name.
 */
export function routeAlertGroup(rules: RouteRule[], alerts: AlertInstance[]): RouteOutcome {
  const ordered = byRelevance(alerts);
  for (const [index, rule] of rules.entries()) {
    const matching = ordered.filter((alert) => ruleMatches(rule, alert.labels));
    if (matching.length > 0) return fill(rule, `rule ${ruleName(rule, index)}`, matching);
  }
  for (const alert of ordered) {
    const [hinted] = runbooksForAlert(alert.labels);
    if (!hinted) continue;
    const rule: RouteRule = {
      match: {},
      runbook: hinted.id,
      namespace: { label: 'namespace' },
      deployment: { label: 'deployment' },
      params: {},
    };
    const matching = ordered.filter((candidate) => runbooksForAlert(candidate.labels)[0]?.id === hinted.id);
    return fill(rule, `catalog hint of ${hinted.id}`, matching);
  }
  const names = [...new Set(alerts.map((a) => a.labels.alertname ?? '(no alertname)'))].join(', ');
  return {
    kind: 'unmatched',
    reason: `no routing rule${rules.length === 0 ? ' (none configured)' : 's'} or runbook hint matches alerts ${names}`,
  };
}

function fill(rule: RouteRule, via: string, alerts: AlertInstance[]): RouteOutcome {
  const [first] = alerts;
  if (!first) return { kind: 'unmatched', reason: `${via} matched no alert` };
  const runbook = findRunbook(rule.runbook);
  const targets: Target[] = [];
  const problems: string[] = [];
  for (const alert of runbook?.multiTarget ? alerts : [first]) {
    const namespace = readValue(rule.namespace, alert);
    const deployment = readValue(rule.deployment, alert);
    if (namespace === undefined || deployment === undefined) {
      const missing = namespace === undefined ? rule.namespace : rule.deployment;
      problems.push(`alert ${alert.fingerprint} has no ${describeSource(missing)} for the target`);
      continue;
    }
    const target = parseTarget(`${namespace}/${deployment}`);
    if (!target) {
      problems.push(`alert ${alert.fingerprint} names ${namespace}/${deployment}, not a valid namespace/deployment`);
      continue;
    }
    if (!targets.some((t) => t.namespace === target.namespace && t.deployment === target.deployment)) {
      targets.push(target);
    }
  }
  if (targets.length === 0) return { kind: 'unusable', via, reason: problems.join('; ') };

  const params: Record<string, string> = {};
  for (const [name, source] of Object.entries(rule.params)) {
    const value = readValue(source, first);
    if (value !== undefined) params[name] = value;
  }
  const severity = chooseSeverity(rule, first);
  return {
    kind: 'routed',
    decision: { via, runbook: rule.runbook, targets, ...(severity ? { severity } : {}), params, alert: first },
  };
}

function chooseSeverity(rule: RouteRule, alert: AlertInstance): Severity | undefined {
  const mapping = rule.severity;
  if (mapping === undefined || typeof mapping === 'string') return mapping;
  const label = alert.labels[mapping.label];
  return (label !== undefined ? mapping.map[label] : undefined) ?? mapping.default;
}

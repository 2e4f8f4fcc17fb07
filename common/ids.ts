/**
 * Workflow ids are business keys: a second trigger for the same thing lands on the same workflow
 * (Temporal refuses a duplicate start; alerts use signal-with-start) instead of a second incident.
 * Pure code: no Node crypto, so the hash is FNV-1a 64-bit written out by hand.
 */
import type { RunbookName, Target } from './types';

export const TASK_QUEUE = 'firebreak';

export function incidentWorkflowId(runbook: RunbookName, target: Target): string {
  return `incident:${runbook}:${target.namespace}/${target.deployment}`;
}

/**
 * A rehearsal's own key: never the real incident's, so a real incident on the same target starts
 * while a rehearsal is open (and the other way round).
 */
export function rehearsalWorkflowId(runbook: RunbookName, target: Target): string {
  return `rehearsal:${runbook}:${target.namespace}/${target.deployment}`;
}

export function alertWorkflowId(source: 'alertmanager' | 'grafana', receiver: string, groupKey: string): string {
  return `alert:${source}:${fnv1a64(`${receiver}\u0000${groupKey}`)}`;
}

/** FNV-1a 64-bit as 16 hex chars; stable across processes and languages. */
export function fnv1a64(text: string): string {
  let hash = 0xcbf29ce484222325n;
  const prime = 0x100000001b3n;
  const bytes = new TextEncoder().encode(text);
  for (const byte of bytes) {
    hash ^= BigInt(byte);
    hash = (hash * prime) & 0xffffffffffffffffn;
  }
  return hash.toString(16).padStart(16, '0');
}

export function formatTarget(target: Target): string {
  return `${target.namespace}/${target.deployment}`;
}

/** Parses `<namespace>/<deployment>`; returns undefined when the text is not a valid target. */
export function parseTarget(text: string): Target | undefined {
  const match = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/.exec(text.trim());
  if (!match || match[1]!.length > 63 || match[3]!.length > 253) return undefined;
  return { namespace: match[1]!, deployment: match[3]! };
}

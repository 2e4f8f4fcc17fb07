/**
 * The runbook catalog: an explicit registry, validated when this module loads — a bad entry
 * throws at import instead of disappearing from the list. Pure code (no Node built-ins): the
 * ingress, the CLI and tests all use it.
 */
import { ApplicationFailure, type SearchAttributePair } from '@temporalio/common';
import { z } from 'zod';
import { ErrorType } from '../common/errors';
import { alertWorkflowId, fnv1a64, formatTarget, incidentWorkflowId, rehearsalWorkflowId } from '../common/ids';
import type { IncidentInput, IncidentPolicy, RehearsalOptions } from '../common/incident';
import { rehearsalTitle } from '../domain/rehearsal';
import { incidentIdKey, runbookKey, severityKey, statusKey, targetKey } from '../common/search-attributes';
import { RUNBOOK_IDS, SEVERITIES } from '../common/types';
import type { Actor, RunbookId, Severity, Target, Trigger } from '../common/types';
import { avalancheMitigation } from './avalanche-mitigation';
import { emergencyRollback } from './emergency-rollback';
import { oomTriage } from './oom-triage';
import { p0Response } from './p0-response';
import { fileRunbookEntry, isFileRunbook, type FileRunbookDefinition } from './files/catalog';
import type { FileRunbookSource } from './files/schema';
import type { RunbookDefinition } from './types';

export type { RunbookDefinition, AlertHints } from './types';
export type { P0ResponseParams } from './p0-response';
export type { EmergencyRollbackParams } from './emergency-rollback';
export type { AvalancheMitigationParams } from './avalanche-mitigation';
export type { OomTriageParams } from './oom-triage';

export const RUNBOOKS: readonly RunbookDefinition[] = validateCatalog([
  p0Response,
  emergencyRollback,
  avalancheMitigation,
  oomTriage,
]);

/** Throws on the first inconsistency, naming the entry; exported for tests of the validation itself. */
export function validateCatalog(entries: RunbookDefinition[]): RunbookDefinition[] {
  const seen = { id: new Set<string>(), slashName: new Set<string>(), workflowType: new Set<string>() };
  for (const entry of entries) {
    const where = `runbook catalog entry ${JSON.stringify(entry.id)}`;
    if (!(RUNBOOK_IDS as readonly string[]).includes(entry.id)) throw new Error(`${where}: unknown id`);
    for (const field of ['id', 'slashName', 'workflowType'] as const) {
      if (seen[field].has(entry[field])) throw new Error(`${where}: duplicate ${field} ${entry[field]}`);
      seen[field].add(entry[field]);
    }
    if (!/^[a-z][A-Za-z0-9]*Workflow$/.test(entry.workflowType)) throw new Error(`${where}: bad workflowType`);
    if (!entry.title.trim() || !entry.summary.trim()) throw new Error(`${where}: title and summary are required`);
    if (!SEVERITIES.includes(entry.defaultSeverity)) throw new Error(`${where}: bad default severity`);
    if (!(entry.params instanceof z.ZodType)) throw new Error(`${where}: params must be a zod schema`);
    const gateNames = entry.gates.map((gate) => gate.name);
    if (new Set(gateNames).size !== gateNames.length) throw new Error(`${where}: duplicate gate names`);
    if (entry.gates.some((gate) => !/^[a-z][a-z0-9-]*$/.test(gate.name) || !gate.prompt.trim())) {
      throw new Error(`${where}: every gate needs a kebab-case name and a prompt`);
    }
    for (const pattern of entry.alertHints.alertnames) {
      try {
        new RegExp(pattern);
      } catch (err) {
        throw new Error(`${where}: alert pattern ${pattern} is not a regular expression`, { cause: err });
      }
    }
  }
  const missing = RUNBOOK_IDS.filter((id) => !seen.id.has(id));
  if (missing.length > 0) throw new Error(`runbook catalog: no entry for ${missing.join(', ')}`);
  return entries;
}

/** The runbook files loaded at start-up (runbooks/files), beside the built-in ones. */
let FILE_RUNBOOKS: readonly FileRunbookDefinition[] = [];

/**
 * Replaces the file runbooks (start-up, `firebreak run`, tests). Each file was validated on its own
 * and names already taken were dropped by the loader; a clash with a built-in name is refused here too.
 */
export function registerFileRunbooks(sources: readonly FileRunbookSource[]): FileRunbookDefinition[] {
  const builtIn = new Set(RUNBOOKS.flatMap((entry) => [entry.id, entry.slashName]));
  FILE_RUNBOOKS = sources
    .map(fileRunbookEntry)
    .filter((entry) => ![entry.id, ...entry.aliases].some((name) => builtIn.has(name)));
  ALERTNAME_HINTS = compileHints();
  return [...FILE_RUNBOOKS];
}

/** Built-in runbooks first, then the runbook files. */
export function allRunbooks(): readonly RunbookDefinition[] {
  return FILE_RUNBOOKS.length === 0 ? RUNBOOKS : [...RUNBOOKS, ...FILE_RUNBOOKS];
}

export function findRunbook(name: string): RunbookDefinition | undefined {
  return allRunbooks().find(
    (entry) => entry.id === name || entry.slashName === name || (isFileRunbook(entry) && entry.aliases.includes(name)),
  );
}

/** Alert-name hints compiled once: they are matched for every alert of every webhook call. */
let ALERTNAME_HINTS = compileHints();

function compileHints(): Map<string, RegExp[]> {
  return new Map(
    allRunbooks().map((entry) => [entry.id, entry.alertHints.alertnames.map((pattern) => new RegExp(pattern))]),
  );
}

/** The runbooks whose hints match an alert's labels, best first (label matches count extra). */
export function runbooksForAlert(labels: Record<string, string>): RunbookDefinition[] {
  const scored = allRunbooks().map((entry) => {
    const byName = (ALERTNAME_HINTS.get(entry.id) ?? []).some((pattern) => pattern.test(labels.alertname ?? ''));
    const required = Object.entries(entry.alertHints.labels ?? {});
    const byLabels = required.every(([name, value]) => labels[name] === value);
    return { entry, score: byName ? (required.length > 0 && byLabels ? 2 : 1) : 0 };
  });
  return scored
    .filter((s) => s.score > 0)
    .sort((a, b) => b.score - a.score)
    .map((s) => s.entry);
}

export interface PrepareIncidentRequest {
  runbook: RunbookId | string;
  targets: Target[];
  severity?: Severity;
  /** What the human (or alert) supplied; parsed with the runbook's schema here, once. */
  params: unknown;
  trigger: Trigger;
  triggeredBy?: Actor;
  policy: IncidentPolicy;
  slackChannel?: string;
  detectedAt?: string;
  /** A rehearsal (`--dry-run`): its own workflow id, REHEARSAL in its title, nothing changed (human triggers only). */
  rehearsal?: RehearsalOptions;
  /** Clock for the incident id; injectable for tests. */
  now?: Date;
}

export interface PreparedIncident {
  workflowId: string;
  workflowType: string;
  input: IncidentInput;
  searchAttributes: SearchAttributePair[];
}

/**
 * Turns a trigger into what the Temporal client needs to start (or signal-with-start) an
 * incident. Throws `INVALID_INPUT` (non-retryable) with zod's message when the parameters are
 * wrong, so nothing starts with a bad revision, replica count, memory cap or sampler ratio.
 */
export function prepareIncident(request: PrepareIncidentRequest): PreparedIncident {
  const runbook = findRunbook(request.runbook);
  if (!runbook)
    invalid(
      `unknown runbook ${request.runbook}; one of ${allRunbooks()
        .map((r) => r.id)
        .join(', ')}`,
    );
  const [target, ...rest] = request.targets;
  if (!target) invalid(`${runbook.id} needs a target deployment`);
  if (isFileRunbook(runbook)) {
    const { min = 1, max = 1 } = runbook.source.definition.targets ?? {};
    if (request.targets.length < min) invalid(`${runbook.id} needs at least ${min} target deployments`);
    if (request.targets.length > max)
      invalid(`${runbook.id} acts on at most ${max} deployments, got ${request.targets.length}`);
  } else if (rest.length > 0 && !runbook.multiTarget)
    invalid(`${runbook.id} acts on one deployment, got ${request.targets.length}`);
  const parsed = runbook.params.safeParse(request.params ?? {});
  if (!parsed.success) invalid(`invalid parameters for ${runbook.id}: ${z.prettifyError(parsed.error)}`);
  const severity = request.severity ?? runbook.defaultSeverity;
  const rehearsal = request.rehearsal;
  if (rehearsal && request.trigger.kind === 'alert') invalid('an alert starts a real incident, never a rehearsal');
  const workflowId =
    request.trigger.kind === 'alert'
      ? alertWorkflowId(request.trigger.source, request.trigger.receiver, request.trigger.groupKey)
      : rehearsal
        ? rehearsalWorkflowId(runbook.id, target)
        : incidentWorkflowId(runbook.id, target);
  const more = rest.length > 0 ? ` and ${rest.length} more` : '';
  const title = `${runbook.title}: ${formatTarget(target)}${more}`;
  const input: IncidentInput = {
    incidentId: incidentId(runbook, target, workflowId, request.now ?? new Date(), rehearsal !== undefined),
    runbook: runbook.id,
    title: rehearsal ? rehearsalTitle(title) : title,
    target,
    targets: request.targets,
    severity,
    trigger: request.trigger,
    ...(request.triggeredBy ? { triggeredBy: request.triggeredBy } : {}),
    params: parsed.data as Record<string, unknown>,
    policy: request.policy,
    ...(request.slackChannel ? { slackChannel: request.slackChannel } : {}),
    ...(request.detectedAt ? { detectedAt: request.detectedAt } : {}),
    ...(rehearsal ? { rehearsal } : {}),
    // A runbook file travels with its incident: editing the file never changes a running incident.
    ...(isFileRunbook(runbook)
      ? {
          definition: {
            hash: runbook.source.hash,
            file: runbook.source.file.split('/').pop() ?? runbook.source.file,
            definition: runbook.source.definition,
          },
        }
      : {}),
  };
  const searchAttributes: SearchAttributePair[] = [
    { key: runbookKey, value: runbook.id },
    { key: severityKey, value: severity },
    { key: statusKey, value: 'open' },
    { key: targetKey, value: request.targets.map(formatTarget) },
    { key: incidentIdKey, value: input.incidentId },
  ];
  return { workflowId, workflowType: runbook.workflowType, input, searchAttributes };
}

/**
 * Human-readable and unique per incident (workflow ids are reused once an incident closes, and
 * remediation markers must not be): `INC-20261121-051233-p0-checkout-9f3a`. The suffix, from the
 * workflow id, separates two alert groups that hit the same deployment in the same second.
 */
function incidentId(
  runbook: RunbookDefinition,
  target: Target,
  workflowId: string,
  now: Date,
  rehearsal: boolean,
): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  const kind = rehearsal ? '-rehearsal' : '';
  return `INC-${stamp}-${runbook.slashName}-${target.deployment}${kind}-${fnv1a64(workflowId).slice(0, 4)}`;
}

function invalid(message: string): never {
  throw ApplicationFailure.nonRetryable(message, ErrorType.INVALID_INPUT);
}

/**
 * Slash-command grammar, pure: `/runbook <name> <ns>/<deployment>[,more] [revision] [key=value…]
 * [--dry-run [--yes]]`
 * and `/incident list|status|ack|resolve`. Parsing only says what was asked; the runbook's own
 * zod schema (through prepareIncident) judges the parameters, so Slack and the CLI accept exactly
 * the same options.
 */
import { z } from 'zod';
import { escapeMrkdwn } from '../../domain/slack/mrkdwn';
import { parseTarget } from '../../common/ids';
import { SEVERITIES, type Severity, type Target } from '../../common/types';
import { allRunbooks, findRunbook, type RunbookDefinition } from '../../runbooks';

export type RunbookCommand =
  | { kind: 'catalog' }
  | {
      kind: 'start';
      runbook: RunbookDefinition;
      targets: Target[];
      severity?: Severity;
      params: Record<string, string>;
      /** `--dry-run` (with `--yes`: gates not asked): a rehearsal, nothing changed. */
      rehearsal?: { skipGates: boolean };
    }
  | { kind: 'usage'; runbook?: RunbookDefinition; problem: string };

export type IncidentCommand =
  | { kind: 'list'; all: boolean }
  | { kind: 'status'; id?: string }
  | { kind: 'ack'; id: string; note?: string }
  | { kind: 'resolve'; id: string; note?: string }
  | { kind: 'cancel'; id: string; reason?: string; restoreNow: boolean }
  | { kind: 'help'; problem?: string };

export const INCIDENT_SUBCOMMANDS = ['list', 'status', 'ack', 'resolve', 'cancel', 'help'] as const;

/** Slack sends the text as typed, with typographic quotes and non-breaking spaces when the client adds them. */
function tokens(text: string): string[] {
  return text
    .replace(/\u00a0/g, ' ')
    .trim()
    .split(/\s+/)
    .filter(Boolean);
}

export function parseRunbookCommand(text: string): RunbookCommand {
  const [name, targetText, ...rest] = tokens(text);
  if (!name || name === 'help' || name === 'list') return { kind: 'catalog' };
  const runbook = findRunbook(name);
  if (!runbook) return { kind: 'usage', problem: `there is no runbook called "${name}"` };
  if (!targetText) return { kind: 'usage', runbook, problem: 'which deployment? give <namespace>/<deployment>' };

  const slash = targetText.indexOf('/');
  const namespace = targetText.slice(0, slash);
  const names = slash > 0 ? targetText.slice(slash + 1).split(',') : [];
  const targets = names.map((deployment) => parseTarget(`${namespace}/${deployment}`));
  if (targets.length === 0 || targets.some((t) => t === undefined)) {
    return { kind: 'usage', runbook, problem: `"${targetText}" is not <namespace>/<deployment>` };
  }
  if (targets.length > 1 && !runbook.multiTarget) {
    return { kind: 'usage', runbook, problem: `${runbook.slashName} acts on one deployment` };
  }

  const params: Record<string, string> = {};
  let severity: Severity | undefined;
  let dryRun = false;
  let yes = false;
  const options = optionNames(runbook);
  for (let i = 0; i < rest.length; i++) {
    // Phones turn a typed `--` into a dash.
    const token = rest[i]!.replace(/^[\u2013\u2014]/, '--');
    if (token === '--dry-run') {
      dryRun = true;
      continue;
    }
    if (token === '--yes') {
      yes = true;
      continue;
    }
    // The one positional option: a rollback's revision, as the source script takes it.
    if (runbook.slashName === 'rollback' && /^\d+$/.test(token) && params.revision === undefined) {
      params.revision = token;
      continue;
    }
    const match = /^(?:--)?([A-Za-z][\w-]*)(?:=(.*))?$/.exec(token);
    if (!match) return { kind: 'usage', runbook, problem: `cannot read "${token}"; write option=value` };
    const key = match[1]!;
    let value = match[2];
    if (value === undefined) {
      if (!token.startsWith('--') || i + 1 >= rest.length) {
        return { kind: 'usage', runbook, problem: `option "${key}" needs a value: ${key}=…` };
      }
      value = rest[++i]!;
    }
    if (key === 'severity') {
      const upper = value.toUpperCase();
      if (!(SEVERITIES as readonly string[]).includes(upper)) {
        return { kind: 'usage', runbook, problem: `severity must be one of ${SEVERITIES.join(', ')}` };
      }
      severity = upper as Severity;
      continue;
    }
    if (!options.includes(key)) {
      return {
        kind: 'usage',
        runbook,
        problem: `unknown option "${key}"${options.length ? `; options: ${options.join(', ')}` : ''}`,
      };
    }
    params[key] = value;
  }
  // Skipping gates is for rehearsals only: a real change always waits for its approvers.
  if (yes && !dryRun) return { kind: 'usage', runbook, problem: '--yes only goes with --dry-run' };
  return {
    kind: 'start',
    runbook,
    targets: targets.filter((t): t is Target => t !== undefined),
    ...(severity ? { severity } : {}),
    params,
    ...(dryRun ? { rehearsal: { skipGates: yes } } : {}),
  };
}

export function parseIncidentCommand(text: string): IncidentCommand {
  const [sub = 'list', id, ...rest] = tokens(text);
  const note = rest.join(' ') || undefined;
  switch (sub) {
    case 'list':
      return { kind: 'list', all: id === 'all' };
    case 'status':
      return { kind: 'status', ...(id ? { id } : {}) };
    case 'ack':
    case 'resolve':
      if (!id) return { kind: 'help', problem: `which incident? /incident ${sub} <id>` };
      return { kind: sub, id, ...(note ? { note } : {}) };
    case 'cancel': {
      if (!id) return { kind: 'help', problem: 'which incident? /incident cancel <id> [restore-now] [reason]' };
      const restoreNow = rest[0] === 'restore-now' || rest[0] === '--restore-now';
      const reason = (restoreNow ? rest.slice(1) : rest).join(' ') || undefined;
      return { kind: 'cancel', id, restoreNow, ...(reason ? { reason } : {}) };
    }
    case 'help':
      return { kind: 'help' };
    default:
      return { kind: 'help', problem: `unknown sub-command "${sub}"` };
  }
}

/** The option names a runbook's schema accepts (its object keys). */
export function optionNames(runbook: RunbookDefinition): string[] {
  return runbook.params instanceof z.ZodObject ? Object.keys(runbook.params.shape) : [];
}

export function runbookSyntax(runbook: RunbookDefinition): string {
  const target = runbook.multiTarget ? '<namespace>/<deployment1,deployment2,…>' : '<namespace>/<deployment>';
  const revision = runbook.slashName === 'rollback' ? ' [revision]' : '';
  const options = optionNames(runbook)
    .filter((name) => !(runbook.slashName === 'rollback' && name === 'revision'))
    .map((name) => ` [${name}=…]`)
    .join('');
  return `/runbook ${runbook.slashName} ${target}${revision} [severity=P0…P3]${options} [--dry-run [--yes]]`;
}

/** Usage for one runbook (or the catalog when none was recognised), with what was wrong first. */
export function usageText(runbook: RunbookDefinition | undefined, problem: string): string {
  const head = `:warning: ${escapeMrkdwn(problem)}`;
  if (!runbook) return `${head}\n${catalogText()}`;
  return [
    head,
    `*Usage:* \`${escapeMrkdwn(runbookSyntax(runbook))}\``,
    `${escapeMrkdwn(runbook.title)} — ${escapeMrkdwn(runbook.summary)} (default severity ${runbook.defaultSeverity})`,
  ].join('\n');
}

export function catalogText(): string {
  const lines = allRunbooks().map(
    (runbook) =>
      `• *${escapeMrkdwn(runbook.title)}* (${runbook.defaultSeverity}) — \`${escapeMrkdwn(runbookSyntax(runbook))}\`\n   ${escapeMrkdwn(runbook.summary)}`,
  );
  return [
    '*Firebreak runbooks*',
    ...lines,
    'Add `--dry-run` to rehearse: every change is a server-side dry run, nobody is paged, the card says REHEARSAL; `--dry-run --yes` also skips the gates.',
    'Incidents: `/incident list`, `/incident status &lt;id&gt;`, `/incident ack &lt;id&gt;`, `/incident resolve &lt;id&gt;`, `/incident cancel &lt;id&gt; [reason]`',
  ].join('\n');
}

export function incidentHelpText(problem?: string): string {
  return [
    ...(problem ? [`:warning: ${escapeMrkdwn(problem)}`] : []),
    '*Usage:* `/incident list [all]` · `/incident status &lt;id&gt;` · `/incident ack &lt;id&gt; [note]` · `/incident resolve &lt;id&gt; [note]` · `/incident cancel &lt;id&gt; [restore-now] [reason]`',
    '`&lt;id&gt;` is the incident id (INC-…), the workflow id, or `&lt;namespace&gt;/&lt;deployment&gt;` of an open incident.',
  ].join('\n');
}

/**
 * A runbook file as a catalog entry, beside the built-in runbooks: the same `RunbookDefinition`
 * (id, aliases, severity, parameters as a zod schema, gates, alert hints), run by the one
 * declarative workflow (workflows/declarative/) with the definition pinned in the start input.
 * Pure code, like the catalog.
 */
import { z } from 'zod';
import { RESTORE_GATE } from '../../domain/gates';
import { flag, httpUrl, type RunbookDefinition } from '../types';
import { DURATION_PATTERN, gateName, walkSteps, type FileRunbookSource, type ParamSpec } from './schema';

export const DECLARATIVE_WORKFLOW_TYPE = 'declarativeRunbookWorkflow';

export interface FileRunbookDefinition extends RunbookDefinition {
  source: FileRunbookSource;
  aliases: string[];
}

export function isFileRunbook(entry: RunbookDefinition): entry is FileRunbookDefinition {
  return 'source' in entry;
}

export function fileRunbookEntry(source: FileRunbookSource): FileRunbookDefinition {
  const { definition } = source;
  const gates: RunbookDefinition['gates'] = [];
  let mitigates = false;
  walkSteps(definition.steps, (step) => {
    if ('gate' in step)
      gates.push({ name: gateName(step), prompt: step.gate.prompt, fourEyes: step.gate.fourEyes ?? false });
    const change = Object.values(step).find((value) => typeof value === 'object' && value !== null && 'mode' in value);
    if ((change as { mode?: string } | undefined)?.mode === 'mitigation') mitigates = true;
  });
  // A temporary mitigation is restored behind the kernel's own gate, as the built-in runbooks list it.
  if (mitigates) gates.push(RESTORE_GATE);
  const shape: Record<string, z.ZodType> = {};
  for (const [name, spec] of Object.entries(definition.params ?? {})) shape[name] = paramSchema(spec);
  return {
    id: definition.id,
    title: definition.title,
    summary: definition.summary ?? definition.title,
    defaultSeverity: definition.defaultSeverity ?? 'P2',
    slashName: definition.aliases?.[0] ?? definition.id,
    aliases: definition.aliases ?? [],
    workflowType: DECLARATIVE_WORKFLOW_TYPE,
    multiTarget: (definition.targets?.max ?? 1) > 1,
    params: z.strictObject(shape),
    gates,
    alertHints: { alertnames: definition.alertHints?.alertnames ?? [], labels: definition.alertHints?.labels },
    source,
  };
}

/** A parameter as Slack and the CLI give it (text) or JSON does: coerced once, defaults applied. */
export function paramSchema(spec: ParamSpec): z.ZodType {
  let schema: z.ZodType;
  switch (spec.type) {
    case 'integer': {
      let n = z.coerce.number().int();
      if (spec.min !== undefined) n = n.min(spec.min);
      if (spec.max !== undefined) n = n.max(spec.max);
      schema = n;
      break;
    }
    case 'number': {
      let n = z.coerce.number();
      if (spec.min !== undefined) n = n.min(spec.min);
      if (spec.max !== undefined) n = n.max(spec.max);
      schema = n;
      break;
    }
    case 'boolean':
      schema = flag();
      break;
    case 'url':
      schema = httpUrl();
      break;
    case 'duration':
      schema = z.string().regex(DURATION_PATTERN, 'a duration such as 30s, 5m or 1h');
      break;
    case 'list':
      // `a,b,c` from Slack and the CLI, an array from JSON.
      schema = z.union([
        z.array(z.string()),
        z.string().transform((text) =>
          text
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
        ),
      ]);
      break;
    default:
      schema = spec.enum ? z.enum(spec.enum as [string, ...string[]]) : z.string();
  }
  if (spec.description) schema = schema.describe(spec.description);
  if (spec.default !== undefined) return schema.default(spec.default as never);
  return spec.required ? schema : schema.optional();
}

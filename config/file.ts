/**
 * The optional YAML configuration file (FIREBREAK_CONFIG): escalation policy and tiers, approvers,
 * the Slack channel, alert routing rules and whether the default routing table applies. Validated
 * at load with zod; a bad file names the offending path and exits 2 like a bad environment variable.
 */
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { parseDuration } from '../common/duration';
import { DEFAULT_POLICY, DEFAULT_RESPONSE_PLAN, type IncidentPolicy, type ResponsePlan } from '../common/incident';
import { SEVERITIES } from '../common/types';
import { ConfigError } from './env';
import { accessPolicy, checkSubjects, peopleSchema, permissionsSchema } from './access';
import { routeRuleSchema } from './routes';

const duration = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const ms = parseDuration(value);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `not a duration (use e.g. 30s, 15m, 4h, 1d): ${value}` });
    return z.NEVER;
  }
  return ms;
});

const stageDeadlines = z.strictObject({
  firstUpdate: duration.optional(),
  mitigate: duration.optional(),
  resolve: duration.optional(),
});

const slackMention = z.string().regex(/^[USW][A-Z0-9]{2,}$/, 'must be a Slack user id (U…/W…) or user-group id (S…)');

const tierSchema = z
  .strictObject({
    name: z.string().min(1),
    kind: z.enum(['slack', 'pagerduty', 'email']),
    mentions: z.array(slackMention).default([]),
    to: z.array(z.email()).max(50).optional(),
  })
  .refine((tier) => tier.kind !== 'email' || (tier.to?.length ?? 0) > 0, {
    message: 'an email tier needs `to`: one or more addresses',
    path: ['to'],
  });

export const fileConfigSchema = z
  .strictObject({
    slack: z.strictObject({ channel: z.string().min(1).optional() }).default({}),
    policy: z
      .strictObject({
        ackDeadline: z
          .strictObject({
            P0: duration.optional(),
            P1: duration.optional(),
            P2: duration.optional(),
            P3: duration.optional(),
          })
          .default({}),
        repageInterval: duration.optional(),
        gateEscalateAfter: duration.optional(),
        gateDeadline: duration.optional(),
        restoreAfter: duration.optional(),
        maxOpen: duration.optional(),
        verifyWindow: duration.optional(),
        verifyMaxErrorRatePerSecond: z.number().min(0).optional(),
        verifyMaxP99Seconds: z.number().positive().optional(),
        resolveWhenAlertsResolve: z.boolean().optional(),
        p0RestartWithoutApproval: z.boolean().optional(),
        rolloutTimeoutSeconds: z.number().int().min(10).max(3600).optional(),
        /** Deadlines after acknowledgement per severity, and the grace before paging the next tier. */
        responsePlan: z
          .strictObject({
            P0: stageDeadlines.optional(),
            P1: stageDeadlines.optional(),
            P2: stageDeadlines.optional(),
            P3: stageDeadlines.optional(),
            grace: duration.optional(),
          })
          .optional(),
      })
      .default({ ackDeadline: {} }),
    escalation: z.strictObject({ tiers: z.array(tierSchema).min(1).optional() }).default({}),
    approvers: z
      .strictObject({
        users: z.array(z.string().min(1)).default([]),
        groups: z.array(z.string().min(1)).default([]),
      })
      .default({ users: [], groups: [] }),
    routes: z.array(routeRuleSchema).default([]),
    /** After `routes`, the built-in table for the kubernetes-mixin's alerts (docs/alert-routing.md); false turns it off. */
    defaultRoutes: z.boolean().default(true),
    /** One identity per person: four-eyes and quorum count people, not accounts. */
    people: peopleSchema.default({}),
    /** Who may do what; absent = everyone may do everything (warned about at start-up). */
    permissions: permissionsSchema.optional(),
    /** Runbook files (docs/runbooks.md); FIREBREAK_RUNBOOKS_DIR wins. A relative dir is the config file's. */
    runbooks: z.strictObject({ dir: z.string().min(1).optional() }).optional(),
  })
  .superRefine((config, ctx) => checkSubjects(config.people, config.permissions, ctx));

export type FileConfig = z.infer<typeof fileConfigSchema>;

export const EMPTY_FILE_CONFIG: FileConfig = fileConfigSchema.parse({});

/** Loads and validates the config file; no path = defaults. Throws ConfigError (exit 2) when bad. */
export async function loadFileConfig(path: string | undefined): Promise<FileConfig> {
  if (!path) return EMPTY_FILE_CONFIG;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`FIREBREAK_CONFIG: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  return parseFileConfig(text, path);
}

export function parseFileConfig(text: string, origin = 'config'): FileConfig {
  let raw: unknown;
  try {
    raw = parseYaml(text) ?? {};
  } catch (err) {
    throw new ConfigError(`FIREBREAK_CONFIG: ${origin} is not valid YAML: ${(err as Error).message}`);
  }
  const result = fileConfigSchema.safeParse(raw);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => `  ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  throw new ConfigError(`FIREBREAK_CONFIG: ${origin} is invalid:\n${lines.join('\n')}`);
}

/** The incident policy: defaults overridden by the file. */
export function incidentPolicy(config: FileConfig): IncidentPolicy {
  const p = config.policy;
  return {
    ackDeadlineMs: {
      P0: p.ackDeadline.P0 ?? DEFAULT_POLICY.ackDeadlineMs.P0,
      P1: p.ackDeadline.P1 ?? DEFAULT_POLICY.ackDeadlineMs.P1,
      P2: p.ackDeadline.P2 ?? DEFAULT_POLICY.ackDeadlineMs.P2,
      P3: p.ackDeadline.P3 ?? DEFAULT_POLICY.ackDeadlineMs.P3,
    },
    repageIntervalMs: p.repageInterval ?? DEFAULT_POLICY.repageIntervalMs,
    tiers: config.escalation.tiers ?? DEFAULT_POLICY.tiers,
    approvers: { users: config.approvers.users, groups: config.approvers.groups },
    access: accessPolicy(config.people, config.permissions),
    gateEscalateAfterMs: p.gateEscalateAfter ?? DEFAULT_POLICY.gateEscalateAfterMs,
    gateDeadlineMs: p.gateDeadline ?? DEFAULT_POLICY.gateDeadlineMs,
    restoreAfterMs: p.restoreAfter ?? DEFAULT_POLICY.restoreAfterMs,
    resolveWhenAlertsResolve: p.resolveWhenAlertsResolve ?? DEFAULT_POLICY.resolveWhenAlertsResolve,
    p0RestartWithoutApproval: p.p0RestartWithoutApproval ?? DEFAULT_POLICY.p0RestartWithoutApproval,
    rolloutTimeoutSeconds: p.rolloutTimeoutSeconds ?? DEFAULT_POLICY.rolloutTimeoutSeconds,
    maxOpenMs: p.maxOpen ?? DEFAULT_POLICY.maxOpenMs,
    responsePlan: responsePlan(p.responsePlan),
    verifyWindowMs: p.verifyWindow ?? DEFAULT_POLICY.verifyWindowMs,
    verifyMaxErrorRatePerSecond: p.verifyMaxErrorRatePerSecond ?? DEFAULT_POLICY.verifyMaxErrorRatePerSecond,
    verifyMaxP99Seconds: p.verifyMaxP99Seconds ?? DEFAULT_POLICY.verifyMaxP99Seconds,
  };
}

function responsePlan(file: FileConfig['policy']['responsePlan']): ResponsePlan {
  const deadlines = { ...DEFAULT_RESPONSE_PLAN.deadlines };
  for (const severity of SEVERITIES) {
    const given = file?.[severity];
    const base = DEFAULT_RESPONSE_PLAN.deadlines[severity];
    deadlines[severity] = {
      firstUpdateMs: given?.firstUpdate ?? base.firstUpdateMs,
      mitigateMs: given?.mitigate ?? base.mitigateMs,
      resolveMs: given?.resolve ?? base.resolveMs,
    };
  }
  return { deadlines, graceMs: file?.grace ?? DEFAULT_RESPONSE_PLAN.graceMs };
}

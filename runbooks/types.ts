/**
 * What a catalog entry declares: metadata beside the schema of the parameters humans choose. The
 * implementation is the workflow named by `workflowType`; triggers (alert hints) sit apart from it.
 */
import { z } from 'zod';
import { forbiddenHealthCheckHost } from '../common/network';
import type { RunbookName, Severity } from '../common/types';
import type { GateDefinition } from '../domain/gates';

export interface AlertHints {
  /** Regular expressions (source text) matched against the alert's `alertname` label. */
  alertnames: string[];
  /** Labels that must all be present with these values (e.g. `{ runbook: 'oom-triage' }`). */
  labels?: Record<string, string>;
}

export interface RunbookDefinition<Schema extends z.ZodType = z.ZodType> {
  id: RunbookName;
  title: string;
  summary: string;
  defaultSeverity: Severity;
  /** The Slack slash-command sub-command and CLI alias: `/firebreak p0 shop/checkout`. */
  slashName: string;
  /** The workflow function's name; part of running incidents, never renamed. */
  workflowType: string;
  /** True when the runbook acts on several deployments at once. */
  multiTarget: boolean;
  params: Schema;
  gates: GateDefinition[];
  alertHints: AlertHints;
}

/** Numbers arrive as text from Slack and the CLI and as numbers from JSON: accept both, once, here. */
export const count = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** `true`/`false`/`yes`/`no`/`1`/`0` as text, or a JSON boolean — never `Boolean("false")`. */
export const flag = () => z.union([z.boolean(), z.stringbool()]);

/** A health-check URL: HTTP(S), and never a cloud metadata service (see common/network.ts). */
export const httpUrl = () =>
  z.url({ protocol: /^https?$/ }).superRefine((value, ctx) => {
    const forbidden = forbiddenHealthCheckHost(new URL(value).hostname);
    if (forbidden) ctx.addIssue({ code: 'custom', message: `health checks may not reach this host: ${forbidden}` });
  });

/** An HTTP status a health endpoint answers when healthy. */
export const httpStatus = () => count(100, 599);

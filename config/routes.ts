/**
 * Alert routing rules: label matchers → a runbook, with parameters and severity taken from the
 * alert. First match wins. (Refined by the alert-webhook work; the shape below is the contract.)
 */
import { z } from 'zod';
import { RUNBOOK_IDS, SEVERITIES } from '../common/types';

/** `value` for equality, `~regex` for a fully anchored regex match, like Alertmanager's =~. */
const matcher = z.string();

/** Where a value comes from: `labels.<name>`, `annotations.<name>`, or a literal. */
const valueSource = z.union([
  z.strictObject({ label: z.string().min(1) }),
  z.strictObject({ annotation: z.string().min(1) }),
  z.strictObject({ value: z.string() }),
]);

export const routeRuleSchema = z.strictObject({
  name: z.string().min(1).optional(),
  match: z.record(z.string(), matcher).refine((m) => Object.keys(m).length > 0, 'needs at least one label matcher'),
  runbook: z.enum(RUNBOOK_IDS),
  namespace: valueSource.default({ label: 'namespace' }),
  deployment: valueSource.default({ label: 'deployment' }),
  severity: z
    .union([z.enum(SEVERITIES), z.strictObject({ label: z.string().min(1), map: z.record(z.string(), z.enum(SEVERITIES)) })])
    .optional(),
  params: z.record(z.string(), valueSource).default({}),
});

export type RouteRule = z.infer<typeof routeRuleSchema>;

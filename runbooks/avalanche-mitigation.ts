/** RB3 — Service avalanche mitigation (000 §6.1 "服务雪崩"; 002 case 7). */
import { z } from 'zod';
import { RESTORE_GATE } from '../domain/gates';
import { count, type RunbookDefinition } from './types';

const params = z.strictObject({
  /** OTEL_TRACES_SAMPLER_ARG while the incident lasts; the source sets 0.001. */
  samplerRatio: z.coerce.number().gt(0).max(1).default(0.001),
  /** Replicas to scale out to; a deployment already larger is left alone. */
  replicas: count(1, 200).default(20),
  /** Container whose environment is changed; the deployment's first container by default. */
  container: z.string().min(1).max(63).optional(),
  /** How far back the root-cause hints look. */
  rootCauseWindowSeconds: count(300, 6 * 3600).default(1800),
});

export type AvalancheMitigationParams = z.infer<typeof params>;

export const avalancheMitigation = {
  id: 'avalanche-mitigation',
  title: 'Service avalanche mitigation',
  summary:
    'For each affected deployment: lower trace sampling, restart, scale out, enable the circuit breaker — each a ' +
    'temporary mitigation restored on resolution — and post root-cause hints to the incident.',
  defaultSeverity: 'P0',
  slashName: 'avalanche',
  workflowType: 'avalancheMitigationWorkflow',
  multiTarget: true,
  params,
  gates: [RESTORE_GATE],
  alertHints: { alertnames: ['^(ServiceAvalanche|CascadingFailure|MultipleServicesDown)$'] },
} satisfies RunbookDefinition<typeof params>;

/** RB1 — P0 incident response (001, `p0-incident-response.sh`). */
import { z } from 'zod';
import { P0_RESTART_GATE } from '../domain/gates';
import { httpStatus, httpUrl, type RunbookDefinition } from './types';

const params = z.strictObject({
  /** Probed before and after the restart; without it, recovery means the rollout completed. */
  healthUrl: httpUrl().optional(),
  expectStatus: httpStatus().optional(),
});

export type P0ResponseParams = z.infer<typeof params>;

export const p0Response = {
  id: 'p0-response',
  title: 'P0 incident response',
  summary:
    'Notify, run quick diagnostics (health, pods, last 20 events), restart the deployment, wait for the rollout, ' +
    'verify health; announce recovery or escalate and wait for humans.',
  defaultSeverity: 'P0',
  slashName: 'p0',
  workflowType: 'p0ResponseWorkflow',
  multiTarget: false,
  params,
  gates: [P0_RESTART_GATE],
  alertHints: { alertnames: ['^(ServiceDown|TargetDown|.*Unavailable)$'], labels: { severity: 'critical' } },
} satisfies RunbookDefinition<typeof params>;

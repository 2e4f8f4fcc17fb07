/** RB2 — Emergency rollback (001, `emergency-rollback.sh`). */
import { z } from 'zod';
import { ROLLBACK_CONFIRM_GATE } from '../domain/gates';
import { count, httpStatus, httpUrl, type RunbookDefinition } from './types';

const params = z.strictObject({
  /** Without one, the approval request lists the rollout history and the approver picks. */
  revision: count(1, 2 ** 31 - 1).optional(),
  healthUrl: httpUrl().optional(),
  expectStatus: httpStatus().optional(),
});

export type EmergencyRollbackParams = z.infer<typeof params>;

export const emergencyRollback = {
  id: 'emergency-rollback',
  title: 'Emergency rollback',
  summary:
    'Show the rollout history, confirm the revision with a second person, roll back, wait for the rollout ' +
    '(300 s), verify health; a rollback that leaves the service unhealthy escalates.',
  defaultSeverity: 'P1',
  slashName: 'rollback',
  workflowType: 'emergencyRollbackWorkflow',
  multiTarget: false,
  params,
  gates: [ROLLBACK_CONFIRM_GATE],
  alertHints: { alertnames: ['^(DeploymentRegression|ErrorRateAfterDeploy)$'] },
} satisfies RunbookDefinition<typeof params>;

/** RB2 — Emergency rollback, as 001's `emergency-rollback.sh` does it, with the confirmation as a gate. */
import { ApplicationFailure } from '@temporalio/workflow';
import { ErrorType } from '../common/errors';
import { formatTarget } from '../common/ids';
import type { IncidentRecord } from '../common/types';
import type { EmergencyRollbackParams } from '../runbooks/emergency-rollback';
import { ROLLBACK_CONFIRM_GATE } from '../domain/gates';
import { runIncident, type Incident, type ResumableInput } from './incident';
import { diagnostics, kubeRead } from './incident/proxies';

/**
 * Changes: one `rollout undo` of the target to the confirmed revision (idempotency key: the
 * incident id). Needs the confirm gate (four-eyes). Timeouts: QUICK history and health,
 * LONG_REMEDIATION undo, the policy's rollout deadline (300 s by default). Returns the incident record.
 */
export async function emergencyRollbackWorkflow(
  input: ResumableInput<EmergencyRollbackParams>,
): Promise<IncidentRecord> {
  return runIncident(input, rollBack);
}

async function rollBack(incident: Incident<EmergencyRollbackParams>): Promise<void> {
  const { target, params, policy } = incident;
  const name = formatTarget(target);

  incident.step('history', `Rollout history of ${name}`);
  const history = await kubeRead.rolloutHistory(target);
  const current = Math.max(0, ...history.map((r) => r.revision));
  const lines = history.map(
    (r) =>
      `${r.revision}${r.revision === current ? ' (current)' : ''}: ${r.images.join(', ')}${r.changeCause ? ` — ${r.changeCause}` : ''}`,
  );
  incident.note('diagnostic', `Rollout history:\n${lines.join('\n')}`, { history });

  const earlier = history
    .filter((r) => r.revision !== current)
    .map((r) => String(r.revision))
    .reverse();
  if (params.revision !== undefined && !history.some((r) => r.revision === params.revision)) {
    throw ApplicationFailure.nonRetryable(
      `revision ${params.revision} is not in the rollout history of ${name}`,
      ErrorType.REVISION_NOT_FOUND,
    );
  }
  if (params.revision === undefined && earlier.length === 0) {
    throw ApplicationFailure.nonRetryable(
      `${name} has no earlier revision to roll back to`,
      ErrorType.REVISION_NOT_FOUND,
    );
  }

  const gate = await incident.requireApproval(
    params.revision !== undefined
      ? {
          ...ROLLBACK_CONFIRM_GATE,
          prompt: `Are you sure you want to roll back ${name} to revision ${params.revision}?`,
        }
      : { ...ROLLBACK_CONFIRM_GATE, prompt: `Roll back ${name}: pick the revision`, choices: earlier },
    'Rollback cancelled',
  );
  const revision = params.revision ?? Number(gate.choice);

  incident.step('undo', `Rolling back ${name} to revision ${revision}`);
  const undo = await incident.changes.rolloutUndo({ ...target, incidentId: incident.id, toRevision: revision });
  incident.note('step', `Rolled back from revision ${undo.fromRevision} to ${undo.toRevision}`, { ...undo });
  if (incident.skipsInRehearsal('the rollout wait and the health check after the rollback')) return;

  incident.step('wait-for-rollout', `Waiting up to ${policy.rolloutTimeoutSeconds} s for the rollout`);
  const rollout = await incident.waitForRollout(target);
  incident.note('diagnostic', `Rollout: ${rollout.message}`, { complete: rollout.complete });

  incident.step('verify', 'Verifying health');
  const health = params.healthUrl ? await checkHealth(incident, params.healthUrl, params.expectStatus) : undefined;
  if (rollout.complete && (health?.healthy ?? true)) {
    incident.mitigated('Rollback successful and application is healthy');
    return;
  }
  await incident.remediationFailed('Rollback completed but application is not healthy');
}

async function checkHealth(incident: Incident<EmergencyRollbackParams>, url: string, expectStatus?: number) {
  const health = await incident.tryDiagnostic('health check', () =>
    diagnostics.checkHealth({ url, ...(expectStatus ? { expectStatus } : {}) }),
  );
  if (health) incident.note('diagnostic', `Health: ${health.verdict}`, { health });
  return health ?? { healthy: false };
}

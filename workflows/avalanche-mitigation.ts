/**
 * RB3 — Service avalanche mitigation (000 §6.1): the four emergency steps on every affected
 * deployment, each a temporary mitigation in the ledger, then root-cause hints for the humans.
 */
import { patched } from '@temporalio/workflow';
import { formatTarget } from '../common/ids';
import type { IncidentRecord, Target } from '../common/types';
import { envChanges, replicaChanges } from '../domain/mitigations';
import type { AvalancheMitigationParams } from '../runbooks/avalanche-mitigation';
import { runIncident, type Incident, type ResumableInput } from './incident';
import { RUNBOOK_READS_SETTINGS } from './incident/patches';
import { diagnostics, kubeChange, kubeRead } from './incident/proxies';

/**
 * Changes, per deployment: OTEL_TRACES_SAMPLER_ARG, a rollout restart, the replica count and
 * ENABLE_CIRCUIT_BREAKER — all recorded and restored on resolution. Idempotency key: the incident
 * id (restoration: `<incident id>:restore`). Timeouts: LONG_REMEDIATION changes, QUICK reads and hints.
 * Returns the incident record.
 */
export async function avalancheMitigationWorkflow(
  input: ResumableInput<AvalancheMitigationParams>,
): Promise<IncidentRecord> {
  return runIncident(input, mitigateAvalanche);
}

async function mitigateAvalanche(incident: Incident<AvalancheMitigationParams>): Promise<void> {
  const targets = incident.record.targets;
  incident.step('notify', `AVALANCHE: ${targets.length} service(s) failing — incident ${incident.id}`);

  // Services are mitigated side by side: in a cascade, minutes matter more than tidy ordering.
  await Promise.all(targets.map((target) => mitigateService(incident, target)));

  incident.step('root-cause', 'Root-cause analysis: which service degraded first, and when volume jumped');
  const { namespace } = incident.target;
  const windowSeconds = incident.params.rootCauseWindowSeconds;
  const hints = await incident.tryDiagnostic('root-cause hints', () =>
    diagnostics.findAvalancheRootCauseHints({ services: targets.map((t) => t.deployment), namespace, windowSeconds }),
  );
  if (hints) incident.note('diagnostic', `Root cause: ${hints.verdict}\n${hints.hints.join('\n')}`, { hints });

  incident.mitigated(`Emergency mitigations applied to ${targets.length} service(s); they are restored on resolution`);
}

async function mitigateService(incident: Incident<AvalancheMitigationParams>, target: Target): Promise<void> {
  const { samplerRatio, replicas, container } = incident.params;
  const change = { ...target, incidentId: incident.id, ...(container ? { container } : {}) };
  const name = formatTarget(target);

  incident.step(`sampling ${name}`, `Lowering trace sampling of ${name} to ${samplerRatio}`);
  const sampling = await kubeChange.setDeploymentEnv({
    ...change,
    env: { OTEL_TRACES_SAMPLER_ARG: String(samplerRatio) },
  });
  incident.recordMitigations(target, envChanges(sampling));

  incident.step(`restart ${name}`, `Restarting ${name}`);
  await kubeChange.rolloutRestart(change);

  // A deployment already larger than asked is left alone: scaling in during an avalanche hurts.
  const running = patched(RUNBOOK_READS_SETTINGS)
    ? (await kubeRead.readDeploymentSettings(target)).replicas
    : (await kubeChange.scaleDeployment({ ...change, replicas, dryRun: true })).previousReplicas;
  if (running >= replicas) {
    incident.note('step', `${name} already runs ${running} replicas (≥ ${replicas}): not scaled`);
  } else {
    incident.step(`scale ${name}`, `Scaling ${name} out to ${replicas} replicas`);
    const scaled = await kubeChange.scaleDeployment({ ...change, replicas });
    incident.recordMitigations(target, replicaChanges(scaled));
  }

  incident.step(`circuit-breaker ${name}`, `Enabling the circuit breaker of ${name}`);
  const breaker = await kubeChange.setDeploymentEnv({ ...change, env: { ENABLE_CIRCUIT_BREAKER: 'true' } });
  incident.recordMitigations(target, envChanges(breaker));
}

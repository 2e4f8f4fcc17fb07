/**
 * RB3 — Service avalanche mitigation (000 §6.1): the four emergency steps on every affected
 * deployment, each a temporary mitigation in the ledger, then root-cause hints for the humans.
 */
import { isCancellation, patched, sleep } from '@temporalio/workflow';
import type { RecoveryCheck } from '../activities/diagnostics';
import { formatTarget } from '../common/ids';
import type { IncidentRecord, Target } from '../common/types';
import { envChanges, replicaChanges } from '../domain/mitigations';
import type { AvalancheMitigationParams } from '../runbooks/avalanche-mitigation';
import { runIncident, type Incident, type ResumableInput } from './incident';
import { failureMessage } from './incident/failures';
import { AVALANCHE_VERIFICATION_WINDOW, RUNBOOK_READS_SETTINGS } from './incident/patches';
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

  if (incident.skipsInRehearsal('the rollout waits and the verification window')) return;
  const applied = `Emergency mitigations applied to ${targets.length} service(s); they are restored on resolution`;
  const verdict = patched(AVALANCHE_VERIFICATION_WINDOW) ? await verifyRecovery(incident) : undefined;
  if (verdict) await incident.remediationFailed(`ESCALATION: not recovered after the mitigations — ${verdict}`);
  else incident.mitigated(applied);
}

/**
 * The verification window: every rollout complete, then, after the policy's window, each service's
 * error rate and p99 under the policy's limits (Prometheus), or — without Prometheus — the
 * rollouts alone. Returns what did not recover, or undefined.
 */
async function verifyRecovery(incident: Incident<AvalancheMitigationParams>): Promise<string | undefined> {
  const { policy } = incident;
  const targets = incident.record.targets;
  incident.step('wait-for-rollouts', `Waiting up to ${policy.rolloutTimeoutSeconds} s for the rollouts`);
  const rollouts = await Promise.all(targets.map(async (t) => ({ t, r: await incident.waitForRollout(t) })));
  const stuck = rollouts.filter(({ r }) => !r.complete).map(({ t, r }) => `${formatTarget(t)}: ${r.message}`);
  if (stuck.length > 0) return `rollout not complete (${stuck.join('; ')})`;

  const seconds = Math.round(policy.verifyWindowMs / 1000);
  incident.step('verify', `Watching error rate and p99 for ${seconds} s`);
  await sleep(policy.verifyWindowMs);
  let check: RecoveryCheck;
  try {
    check = await diagnostics.checkServiceRecovery({
      services: targets.map((t) => t.deployment),
      namespace: incident.target.namespace,
      maxErrorRatePerSecond: policy.verifyMaxErrorRatePerSecond,
      maxP99Seconds: policy.verifyMaxP99Seconds,
    });
  } catch (err) {
    if (isCancellation(err)) throw err;
    incident.note('diagnostic', `Metrics not checked (${failureMessage(err)}): recovery judged by the rollouts`);
    return undefined;
  }
  const lines = check.services.map((s) => {
    const figures = `error rate ${s.errorRatePerSecond ?? 'no data'}/s, p99 ${s.p99Seconds ?? 'no data'}s`;
    return `${s.service}: ${s.recovered ? 'recovered' : s.problems.join(', ')} (${figures})`;
  });
  incident.note('diagnostic', `After ${seconds} s:\n${lines.join('\n')}`, { recovery: check });
  const notRecovered = check.services.filter((s) => !s.recovered);
  return notRecovered.length > 0
    ? notRecovered.map((s) => `${s.service}: ${s.problems.join(', ')}`).join('; ')
    : undefined;
}

async function mitigateService(incident: Incident<AvalancheMitigationParams>, target: Target): Promise<void> {
  const { samplerRatio, replicas, container } = incident.params;
  const change = { ...target, incidentId: incident.id, ...(container ? { container } : {}) };
  const name = formatTarget(target);

  incident.step(`sampling ${name}`, `Lowering trace sampling of ${name} to ${samplerRatio}`);
  const sampling = await incident.changes.setDeploymentEnv({
    ...change,
    env: { OTEL_TRACES_SAMPLER_ARG: String(samplerRatio) },
  });
  incident.recordMitigations(target, envChanges(sampling));

  incident.step(`restart ${name}`, `Restarting ${name}`);
  await incident.changes.rolloutRestart(change);

  // A deployment already larger than asked is left alone: scaling in during an avalanche hurts.
  const running = patched(RUNBOOK_READS_SETTINGS)
    ? (await kubeRead.readDeploymentSettings(target)).replicas
    : (await kubeChange.scaleDeployment({ ...change, replicas, dryRun: true })).previousReplicas;
  if (running >= replicas) {
    incident.note('step', `${name} already runs ${running} replicas (≥ ${replicas}): not scaled`);
  } else {
    incident.step(`scale ${name}`, `Scaling ${name} out to ${replicas} replicas`);
    const scaled = await incident.changes.scaleDeployment({ ...change, replicas });
    incident.recordMitigations(target, replicaChanges(scaled));
  }

  incident.step(`circuit-breaker ${name}`, `Enabling the circuit breaker of ${name}`);
  const breaker = await incident.changes.setDeploymentEnv({ ...change, env: { ENABLE_CIRCUIT_BREAKER: 'true' } });
  incident.recordMitigations(target, envChanges(breaker));
}

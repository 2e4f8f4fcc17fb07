/**
 * RB1 — P0 incident response, step by step as 001's `p0-incident-response.sh` does it, with a
 * rollout wait instead of its `sleep 60`.
 */
import { isCancellation, patched } from '@temporalio/workflow';
import type { PodSummary } from '../activities/kubernetes';
import { formatTarget } from '../common/ids';
import type { IncidentRecord, Target } from '../common/types';
import type { P0ResponseParams } from '../runbooks/p0-response';
import { P0_RESTART_GATE } from '../domain/gates';
import { runIncident, type Incident, type ResumableInput } from './incident';
import { failureMessage } from './incident/failures';
import { FIRST_ACTION_FIRST, P0_SERVICE_DIAGNOSTICS } from './incident/patches';
import { diagnostics, kubeRead } from './incident/proxies';

/** Crashed containers whose previous logs the diagnostics show, lines read from each, characters kept. */
const MAX_PREVIOUS_LOGS = 3;
const PREVIOUS_LOG_LINES = 50;
const PREVIOUS_LOG_CHARS = 4_000;

/**
 * Changes: one rollout restart of the target (idempotency key: the incident id, so a retried or
 * replayed restart is never a second restart). Timeouts: QUICK probes, LONG_REMEDIATION restart,
 * the policy's rollout deadline. Returns the incident record.
 */
export async function p0ResponseWorkflow(input: ResumableInput<P0ResponseParams>): Promise<IncidentRecord> {
  return runIncident(input, respondToP0);
}

async function respondToP0(incident: Incident<P0ResponseParams>): Promise<void> {
  const { target, params, policy } = incident;
  const service = target.deployment;

  incident.step('notify', `P0 INCIDENT: ${service} is down — incident ${incident.id}`);

  incident.step('diagnostics', 'Quick diagnostics: health check, pods, last 20 events');
  if (patched(FIRST_ACTION_FIRST)) {
    // The crashed containers' previous logs follow the pod listing at once, beside the other probes.
    await Promise.all([
      describePods(incident, target).then((pods) => previousLogs(incident, pods ?? [])),
      probeHealth(incident, 'before recovery'),
      recentEvents(incident),
      serviceMetrics(incident),
    ]);
  } else if (patched(P0_SERVICE_DIAGNOSTICS)) {
    const [pods] = await Promise.all([
      describePods(incident, target),
      probeHealth(incident, 'before recovery'),
      recentEvents(incident),
      serviceMetrics(incident),
    ]);
    await previousLogs(incident, pods ?? []);
  } else {
    await Promise.all([
      probeHealth(incident, 'before recovery'),
      describePods(incident, target),
      recentEvents(incident),
    ]);
  }

  if (incident.record.severity !== 'P0' || !policy.p0RestartWithoutApproval) {
    await incident.requireApproval(
      { ...P0_RESTART_GATE, prompt: `Restart deployment ${formatTarget(target)} to attempt automatic recovery?` },
      'Automatic recovery not approved',
    );
  }
  incident.step('restart', `Attempting automatic recovery: rollout restart of ${formatTarget(target)}`);
  const restart = await incident.changes.rolloutRestart({ ...target, incidentId: incident.id });
  incident.note('step', `Restart requested at ${restart.restartedAt}`, { ...restart });
  if (incident.skipsInRehearsal('the rollout wait and the health check after the restart')) return;

  incident.step('wait-for-rollout', `Waiting up to ${policy.rolloutTimeoutSeconds} s for the rollout`);
  const rollout = await incident.waitForRollout(target);
  incident.note('diagnostic', `Rollout: ${rollout.message}`, { complete: rollout.complete });

  incident.step('verify', 'Checking health again');
  const healthy = rollout.complete && (params.healthUrl ? await probeHealth(incident, 'after recovery') : true);
  if (healthy) {
    incident.mitigated(`RECOVERY: ${service} recovered`);
    return;
  }
  await incident.remediationFailed(`ESCALATION: automatic recovery failed — ${service} is still down`);
}

/** Returns whether the service answered healthy; no health URL means there is nothing to probe. */
async function probeHealth(incident: Incident<P0ResponseParams>, when: string): Promise<boolean> {
  const { healthUrl, expectStatus } = incident.params;
  if (!healthUrl) {
    if (when === 'before recovery')
      incident.note('diagnostic', 'No health URL given: recovery is judged by the rollout');
    return false;
  }
  const health = await incident.tryDiagnostic('health check', () =>
    diagnostics.checkHealth({ url: healthUrl, ...(expectStatus ? { expectStatus } : {}) }),
  );
  if (health) incident.note('diagnostic', `Health ${when}: ${health.verdict}`, { health });
  return health?.healthy ?? false;
}

async function describePods(incident: Incident<P0ResponseParams>, target: Target): Promise<PodSummary[] | undefined> {
  const pods = await incident.tryDiagnostic('listing pods', () => kubeRead.listDeploymentPods(target));
  if (!pods) return undefined;
  const lines = pods.map((pod) => {
    const last = pod.containers.find((c) => c.lastTermination)?.lastTermination;
    const reason = last ? `, last termination ${last.reason ?? '?'} (exit ${last.exitCode ?? '?'})` : '';
    return `${pod.name}: ${pod.phase}, ${pod.restarts} restarts${reason}`;
  });
  incident.note('diagnostic', `Pods of ${target.deployment}:\n${lines.join('\n') || 'none'}`, { pods });
  return pods;
}

/** The service's p99 latency and error rate now, when Prometheus is configured. */
async function serviceMetrics(incident: Incident<P0ResponseParams>): Promise<void> {
  const { target, policy } = incident;
  try {
    const check = await diagnostics.checkServiceRecovery({
      services: [target.deployment],
      namespace: target.namespace,
      maxErrorRatePerSecond: policy.verifyMaxErrorRatePerSecond,
      maxP99Seconds: policy.verifyMaxP99Seconds,
    });
    const service = check.services[0];
    const figures = `p99 ${service?.p99Seconds ?? 'no data'} s, error rate ${service?.errorRatePerSecond ?? 'no data'}/s`;
    const verdict = service && !service.recovered ? ` — ${service.problems.join(', ')}` : '';
    incident.note('diagnostic', `Metrics of ${target.deployment}: ${figures}${verdict}`, { metrics: service ?? null });
  } catch (err) {
    if (isCancellation(err)) throw err;
    incident.note('diagnostic', `Metrics of ${target.deployment} not read: ${failureMessage(err)}`);
  }
}

/** What crashed containers said before they died (`kubectl logs --previous`), for a few pods. */
async function previousLogs(incident: Incident<P0ResponseParams>, pods: PodSummary[]): Promise<void> {
  const { namespace } = incident.target;
  const crashed = pods.flatMap((pod) =>
    pod.containers.filter((c) => c.lastTermination).map((c) => ({ pod: pod.name, container: c.name })),
  );
  for (const { pod, container } of crashed.slice(0, MAX_PREVIOUS_LOGS)) {
    const log = await incident.tryDiagnostic(`previous logs of ${pod}/${container}`, () =>
      kubeRead.readPodLogs({ namespace, pod, container, previous: true, tailLines: PREVIOUS_LOG_LINES }),
    );
    if (log === undefined) continue;
    const tail = log.length > PREVIOUS_LOG_CHARS ? `…${log.slice(-PREVIOUS_LOG_CHARS)}` : log;
    incident.note('diagnostic', `Previous logs of ${pod}/${container}:\n${tail || '(empty)'}`);
  }
}

async function recentEvents(incident: Incident<P0ResponseParams>): Promise<void> {
  const namespace = incident.target.namespace;
  const events = await incident.tryDiagnostic('listing events', () =>
    kubeRead.listRecentEvents({ namespace, limit: 20 }),
  );
  if (!events) return;
  const lines = events.map((e) => `${e.lastTimestamp} ${e.type} ${e.reason} ${e.object}: ${e.message}`);
  incident.note('diagnostic', `Last ${events.length} events in ${namespace}:\n${lines.join('\n')}`, { events });
}

/**
 * RB4 — OOM triage (000 §6.2, §4.1; 002 case 2): find the kills, give the container room once,
 * shrink the exporter queue, keep evidence (heap profile, memory trend), and disable trace export
 * only if a human approves the extreme case.
 */
import { patched, sleep } from '@temporalio/workflow';
import { formatTarget } from '../common/ids';
import type { IncidentRecord } from '../common/types';
import { OOM_DISABLE_EXPORT_GATE } from '../domain/gates';
import {
  containerOf,
  envChanges,
  mitigationKey,
  resourceChanges,
  type DeploymentSettings,
  type ResourceChangeResult,
} from '../domain/mitigations';
import { nextMemoryLimit } from '../domain/quantity';
import type { OomTriageParams } from '../runbooks/oom-triage';
import { runIncident, type Incident, type ResumableInput } from './incident';
import { EVIDENCE_LEAVES_POD, OOM_VERIFICATION_WINDOW, RUNBOOK_READS_SETTINGS } from './incident/patches';
import { diagnostics, kubeChange, kubeRead } from './incident/proxies';
import { keepEvidence, saveHeapProfile } from './oom-evidence';

/** 002 case 2: resident memory growing faster than 1 MB/s is a leak. */
const LEAK_BYTES_PER_SECOND = 1_000_000;

/**
 * Changes: the container's memory limit (at most once per incident), OTEL_BSP_MAX_QUEUE_SIZE and,
 * behind a gate, OTEL_TRACES_EXPORTER — all recorded and restored on resolution. Idempotency key:
 * the incident id. Timeouts: QUICK reads and exec, LONG_REMEDIATION changes. Returns the incident record.
 */
export async function oomTriageWorkflow(input: ResumableInput<OomTriageParams>): Promise<IncidentRecord> {
  return runIncident(input, triageOom);
}

async function triageOom(incident: Incident<OomTriageParams>): Promise<void> {
  const { target, params } = incident;
  const name = formatTarget(target);

  incident.step('find-oom-kills', `Looking for OOM kills of ${name} (container statuses and node events)`);
  const kills = await kubeRead.findOomKills(target);
  const lines = kills.map((k) => `${k.at ?? '?'} ${k.pod ?? k.node ?? '?'}/${k.container ?? '?'} (${k.source})`);
  const found = `${kills.length} OOM kill(s) found${lines.length ? `:\n${lines.join('\n')}` : ''}`;
  incident.note('diagnostic', found, { kills });
  const container = params.container ?? kills.find((k) => k.container)?.container;
  const change = { ...target, incidentId: incident.id, ...(container ? { container } : {}) };
  // Evidence first: raising the limit rolls the pods, and the leaking pod's heap goes with them.
  const killedPods = kills.flatMap((k) => (k.pod ? [k.pod] : []));
  if (patched(EVIDENCE_LEAVES_POD)) await keepEvidence(incident, container, kills);
  else if (params.heapProfile && !incident.skipsInRehearsal('the heap profile (an exec that writes in a pod)')) {
    await saveHeapProfile(incident, container, killedPods);
  }

  incident.step('raise-memory-limit', `Raising the memory limit of ${name} temporarily`);
  const live = patched(RUNBOOK_READS_SETTINGS)
    ? memoryLimitOf(await kubeRead.readDeploymentSettings({ ...target, ...(container ? { container } : {}) }))
    : dryRunMemoryLimit(
        await kubeChange.setContainerResources({ ...change, limits: { memory: params.memoryLimit }, dryRun: true }),
      );
  const raise = nextMemoryLimit(live.limit, {
    mode: params.memoryPolicy,
    limit: params.memoryLimit,
    cap: params.memoryCap,
  });
  const key = mitigationKey(target, {
    kind: 'resources',
    container: live.container,
    field: 'limits',
    resource: 'memory',
  });
  if ('skip' in raise || incident.hasMitigation(key)) {
    incident.note('step', `Memory limit not raised: ${'skip' in raise ? raise.skip : 'already raised once'}`);
  } else {
    const raised = await incident.changes.setContainerResources({
      ...change,
      container: live.container,
      limits: { memory: raise.limit },
    });
    incident.recordMitigations(target, resourceChanges(raised));
  }

  incident.step('shrink-exporter-queue', `Shrinking the exporter queue to ${params.exporterQueueSize}`);
  const queue = await incident.changes.setDeploymentEnv({
    ...change,
    env: { OTEL_BSP_MAX_QUEUE_SIZE: String(params.exporterQueueSize) },
  });
  incident.recordMitigations(target, envChanges(queue));

  const watch =
    patched(OOM_VERIFICATION_WINDOW) && !incident.skipsInRehearsal('the rollout wait and the verification window');
  const verified = watch ? await watchForNewOomKills(incident) : RECOVERED;
  await judgeMemoryTrend(incident);
  if (verified.recovered) {
    incident.mitigated(`OOM mitigations applied to ${name}; they are restored on resolution`);
  } else {
    await incident.remediationFailed(`ESCALATION: ${name} did not recover from the OOM mitigations — ${verified.why}`);
  }

  if (!params.offerDisableTraceExport) return;
  const gate = await incident.askApproval({
    ...OOM_DISABLE_EXPORT_GATE,
    prompt: `${OOM_DISABLE_EXPORT_GATE.prompt} (${name})`,
  });
  if (gate.status !== 'approved') {
    incident.note('step', `Trace export left on: the gate was ${gate.status.replace('_', ' ')}`);
    return;
  }
  incident.step('disable-trace-export', `Disabling trace export of ${name}`);
  const exporter = await incident.changes.setDeploymentEnv({ ...change, env: { OTEL_TRACES_EXPORTER: 'none' } });
  incident.recordMitigations(target, envChanges(exporter));
}

type Verdict = { recovered: true } | { recovered: false; why: string };
const RECOVERED: Verdict = { recovered: true };

/**
 * After the changes roll out, the verification window (policy): any OOM kill of the target that
 * ends after the rollout completed means the mitigation did not hold. Polls findOomKills (QUICK).
 */
async function watchForNewOomKills(incident: Incident<OomTriageParams>): Promise<Verdict> {
  const { target, policy } = incident;
  const name = formatTarget(target);
  incident.step('wait-for-rollout', `Waiting up to ${policy.rolloutTimeoutSeconds} s for the rollout of ${name}`);
  const rollout = await incident.waitForRollout(target);
  incident.note('diagnostic', `Rollout: ${rollout.message}`, { complete: rollout.complete });
  if (!rollout.complete) return { recovered: false, why: `the rollout did not complete: ${rollout.message}` };
  const since = new Date().toISOString();
  const windowMs = policy.verifyWindowMs;
  incident.step('verify', `Watching ${name} for ${Math.round(windowMs / 1000)} s: no new OOM kill`);
  const end = Date.now() + windowMs;
  const pollMs = Math.max(1_000, Math.min(30_000, Math.round(windowMs / 5)));
  for (;;) {
    const kills = await incident.tryDiagnostic('looking for new OOM kills', () => kubeRead.findOomKills(target));
    const fresh = (kills ?? []).filter((k) => k.at !== undefined && k.at >= since.replace(/\.\d{3}Z$/, 'Z'));
    if (fresh.length > 0) {
      const lines = fresh.map((k) => `${k.at} ${k.pod ?? k.node ?? '?'}/${k.container ?? '?'}`);
      incident.note('diagnostic', `New OOM kill(s) after the mitigation:\n${lines.join('\n')}`, { kills: fresh });
      return { recovered: false, why: `${fresh.length} new OOM kill(s) within the verification window` };
    }
    if (Date.now() >= end) break;
    await sleep(Math.min(pollMs, Math.max(1, end - Date.now())));
  }
  incident.note('diagnostic', `No new OOM kill of ${name} within ${Math.round(windowMs / 1000)} s`);
  return RECOVERED;
}

function memoryLimitOf(settings: DeploymentSettings): { container: string; limit: string | null } {
  const container = containerOf(settings);
  return { container: container.name, limit: container.limits.memory ?? null };
}

/** Incidents begun before readDeploymentSettings read the limit with a dry-run patch. */
function dryRunMemoryLimit(result: ResourceChangeResult): { container: string; limit: string | null } {
  return { container: result.container, limit: result.previous.limits.memory ?? null };
}

async function judgeMemoryTrend(incident: Incident<OomTriageParams>): Promise<void> {
  incident.step('memory-trend', 'Judging the resident-memory trend');
  const { namespace, deployment } = incident.target;
  const trend = await incident.tryDiagnostic('memory trend', () =>
    diagnostics.analyzeMemoryTrend({
      selector: `namespace="${namespace}",pod=~"${deployment}-.*"`,
      windowSeconds: incident.params.trendWindowSeconds,
      thresholdBytesPerSecond: LEAK_BYTES_PER_SECOND,
    }),
  );
  if (!trend) return;
  incident.note('diagnostic', `Memory trend: ${trend.verdict}`, { leak: trend.leak, slope: trend.slopeBytesPerSecond });
}

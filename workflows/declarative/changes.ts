/**
 * The Kubernetes change steps of runbook files — restart, undo, scale, set env, set resources,
 * wait for rollout — through the kernel's change proxies (one remediation per deployment); a
 * `mode: mitigation` change is recorded for the kernel to restore. Moved out of interpreter.ts
 * unchanged.
 */
import { ApplicationFailure } from '@temporalio/workflow';
import { ErrorType } from '../../common/errors';
import { formatTarget } from '../../common/ids';
import { envChanges, replicaChanges, resourceChanges } from '../../domain/mitigations';
import type { StepKind } from '../../domain/runbook-steps';
import type { StepDefinition } from '../../runbooks/files/schema';
import { kubeRead } from '../incident/proxies';
import { evaluate, type Bindings } from './cel';
import type { StepContext, StepResult } from './step-context';

/** A Kubernetes change: permanent, or a temporary mitigation the kernel restores. */
export async function change(
  ctx: StepContext,
  step: StepDefinition,
  kind: StepKind,
  loop: Bindings,
): Promise<StepResult> {
  const incident = ctx.incident;
  const spec = (step as unknown as Record<string, { on?: string; mode?: string }>)[kind]!;
  const target = ctx.target(spec.on, loop);
  const marker = { ...target, incidentId: incident.id };
  const mitigation = spec.mode === 'mitigation';
  const what = `${formatTarget(target)}${mitigation ? ' (temporary: restored when the incident ends)' : ''}`;
  if ('restart' in step) {
    const restart = await incident.changes.rolloutRestart(marker);
    incident.note('step', `Rollout restart of ${what} requested at ${restart.restartedAt}`, { ...restart });
    return { outcome: 'applied' };
  }
  if ('undo' in step) {
    const undo = await incident.changes.rolloutUndo({
      ...marker,
      ...(step.undo.toRevision !== undefined ? { toRevision: step.undo.toRevision } : {}),
    });
    incident.note('step', `Rollout undo of ${what}: revision ${undo.fromRevision} → ${undo.toRevision}`, { ...undo });
    return { outcome: 'applied' };
  }
  if ('scale' in step) {
    let replicas: number;
    if (step.scale.add !== undefined) {
      const settings = await kubeRead.readDeploymentSettings(target);
      replicas = Math.max(0, settings.replicas + step.scale.add);
    } else if (typeof step.scale.replicas === 'string') {
      replicas = Number(evaluate(step.scale.replicas, ctx.bindings(loop)));
    } else {
      replicas = step.scale.replicas!;
    }
    if (!Number.isInteger(replicas) || replicas < 0) {
      throw ApplicationFailure.nonRetryable(`step ${step.id}: ${replicas} replicas`, ErrorType.INVALID_INPUT);
    }
    const scaled = await incident.changes.scaleDeployment({ ...marker, replicas });
    if (mitigation) incident.recordMitigations(target, replicaChanges(scaled));
    incident.note('step', `Scaled ${what}: ${scaled.previousReplicas} → ${scaled.replicas} replicas`, { ...scaled });
    return {
      outcome: scaled.alreadyApplied ? 'already-applied' : 'applied',
      fields: { replicas: scaled.replicas, previousReplicas: scaled.previousReplicas },
    };
  }
  if ('setEnv' in step) {
    const env: Record<string, string | null> = {};
    for (const [name, value] of Object.entries(step.setEnv.env))
      env[name] = value === null ? null : ctx.text(value, loop);
    const changed = await incident.changes.setDeploymentEnv({
      ...marker,
      env,
      ...(step.setEnv.container ? { container: step.setEnv.container } : {}),
    });
    if (mitigation) incident.recordMitigations(target, envChanges(changed));
    const names = Object.entries(env).map(([name, value]) => `${name}=${value ?? '(unset)'}`);
    incident.note('step', `Set ${names.join(' ')} on ${what}`, { ...changed });
    return { outcome: changed.alreadyApplied ? 'already-applied' : 'applied' };
  }
  if ('setResources' in step) {
    const changed = await incident.changes.setContainerResources({
      ...marker,
      ...(step.setResources.container ? { container: step.setResources.container } : {}),
      ...(step.setResources.limits ? { limits: step.setResources.limits } : {}),
      ...(step.setResources.requests ? { requests: step.setResources.requests } : {}),
    });
    if (mitigation) incident.recordMitigations(target, resourceChanges(changed));
    incident.note('step', `Set resources of ${what}`, { ...changed });
    return { outcome: changed.alreadyApplied ? 'already-applied' : 'applied' };
  }
  if ('waitForRollout' in step) {
    if (incident.skipsInRehearsal(`the rollout wait of ${formatTarget(target)}`)) {
      return { outcome: 'complete', fields: { complete: true, message: 'skipped in a rehearsal' } };
    }
    const rollout = await incident.waitForRollout(target);
    incident.note('diagnostic', `Rollout of ${formatTarget(target)}: ${rollout.message}`, {
      complete: rollout.complete,
    });
    return {
      outcome: rollout.complete ? 'complete' : 'stalled',
      fields: { complete: rollout.complete, message: rollout.message },
    };
  }
  throw ApplicationFailure.nonRetryable(`step ${step.id}: unknown kind ${kind}`, ErrorType.INVALID_INPUT);
}

/**
 * The diagnostic steps of runbook files: health, pods, events, previous logs, PromQL, memory
 * trend, trace settings and collector drops, each through the kernel's diagnostic proxies; `report`
 * is the interpreter's (it reads the findings so far). Moved out of interpreter.ts unchanged.
 */
import { ApplicationFailure } from '@temporalio/workflow';
import type { TraceLossFinding } from '../../activities/diagnostics/types';
import type { PodSummary } from '../../activities/kubernetes';
import { ErrorType } from '../../common/errors';
import { durationMs, type StepKind } from '../../domain/runbook-steps';
import type { StepDefinition } from '../../runbooks/files/schema';
import { diagnostics, kubeRead } from '../incident/proxies';
import type { Bindings } from './cel';
import type { StepContext, StepResult } from './step-context';

const PREVIOUS_LOG_CHARS = 4_000;

/** A diagnostic step: one read through the kernel's proxies, its finding noted on the timeline. */
export async function probe(
  ctx: StepContext,
  step: StepDefinition,
  kind: StepKind,
  loop: Bindings,
): Promise<StepResult> {
  const incident = ctx.incident;
  const tryIt = <T>(what: string, call: () => Promise<T>) => incident.tryDiagnostic(what, call);
  if ('health' in step) {
    const url = step.health.url ? ctx.text(step.health.url, loop) : stringParam(incident.params.healthUrl);
    if (!url) {
      incident.note('diagnostic', `${step.id}: no health URL (params.healthUrl) to probe`);
      return { outcome: 'failed' };
    }
    const expectStatus = step.health.expectStatus ?? numberParam(incident.params.expectStatus);
    const health = await tryIt('health check', () =>
      diagnostics.checkHealth({ url, ...(expectStatus ? { expectStatus } : {}) }),
    );
    if (!health) return { outcome: 'failed' };
    incident.note('diagnostic', `Health: ${health.verdict}`, { health, step: step.id });
    const outcome = health.healthy ? 'healthy' : health.status === undefined ? 'unreachable' : 'unhealthy';
    return { outcome, fields: { healthy: health.healthy, status: health.status ?? 0, verdict: health.verdict } };
  }
  if ('pods' in step) {
    const target = ctx.target(step.pods.on, loop);
    const pods = await tryIt('listing pods', () => kubeRead.listDeploymentPods(target));
    if (!pods) return { outcome: 'failed' };
    const lines = pods.map((pod) => {
      const last = pod.containers.find((c) => c.lastTermination)?.lastTermination;
      const reason = last ? `, last termination ${last.reason ?? '?'} (exit ${last.exitCode ?? '?'})` : '';
      return `${pod.name}: ${pod.phase}, ${pod.restarts} restarts${reason}`;
    });
    incident.note('diagnostic', `Pods of ${target.deployment}:\n${lines.join('\n') || 'none'}`, { pods });
    const crashed = crashedContainers(pods).length;
    const restarts = pods.reduce((sum, pod) => sum + pod.restarts, 0);
    const outcome = pods.length === 0 ? 'none' : crashed > 0 ? 'crashing' : 'ok';
    return { outcome, fields: { count: pods.length, restarts, crashed } };
  }
  if ('events' in step) {
    const namespace = step.events.namespace ? ctx.text(step.events.namespace, loop) : incident.target.namespace;
    ctx.allowedNamespace(namespace);
    const events = await tryIt('listing events', () =>
      kubeRead.listRecentEvents({ namespace, limit: step.events.limit ?? 20 }),
    );
    if (!events) return { outcome: 'failed' };
    const lines = events.map((e) => `${e.lastTimestamp} ${e.type} ${e.reason} ${e.object}: ${e.message}`);
    incident.note('diagnostic', `Last ${events.length} events in ${namespace}:\n${lines.join('\n')}`, { events });
    const warnings = events.filter((e) => e.type === 'Warning').length;
    return { outcome: warnings > 0 ? 'warnings' : 'ok', fields: { count: events.length, warnings } };
  }
  if ('previousLogs' in step) {
    const target = ctx.target(step.previousLogs.on, loop);
    const pods = await tryIt('listing pods', () => kubeRead.listDeploymentPods(target));
    if (!pods) return { outcome: 'failed' };
    const crashed = crashedContainers(pods).slice(0, step.previousLogs.max ?? 3);
    let count = 0;
    for (const { pod, container } of crashed) {
      const log = await tryIt(`previous logs of ${pod}/${container}`, () =>
        kubeRead.readPodLogs({
          namespace: target.namespace,
          pod,
          container,
          previous: true,
          tailLines: step.previousLogs.lines ?? 50,
        }),
      );
      if (log === undefined) continue;
      count += 1;
      const tail = log.length > PREVIOUS_LOG_CHARS ? `…${log.slice(-PREVIOUS_LOG_CHARS)}` : log;
      incident.note('diagnostic', `Previous logs of ${pod}/${container}:\n${tail || '(empty)'}`);
    }
    return { outcome: count > 0 ? 'found' : 'none', fields: { count } };
  }
  if ('promql' in step) {
    const query = ctx.text(step.promql.query, loop);
    const answer = await tryIt(`query ${query}`, () => diagnostics.queryPrometheus({ query }));
    if (!answer) return { outcome: 'failed' };
    const values = answer.series.map((s) => s.value).filter((v): v is number => v !== null);
    if (values.length === 0) {
      incident.note('diagnostic', `${step.promql.label ?? query}: no data`, { query });
      return { outcome: 'no-data', fields: { value: 0, series: 0, verdict: 'no data' } };
    }
    const { above, below } = step.promql;
    const max = Math.max(...values);
    const min = Math.min(...values);
    const outcome = above !== undefined && max > above ? 'above' : below !== undefined && min < below ? 'below' : 'ok';
    const value = outcome === 'below' ? min : max;
    const limit = outcome === 'above' ? ` (above ${above})` : outcome === 'below' ? ` (below ${below})` : '';
    const verdict = `${step.promql.label ?? query} = ${value}${limit}`;
    incident.note('diagnostic', verdict, { query, series: answer.series.length, value });
    return { outcome, fields: { value, series: values.length, verdict } };
  }
  if ('memoryTrend' in step) {
    const target = incident.target;
    const trend = await tryIt('memory trend', () =>
      diagnostics.analyzeMemoryTrend({
        ...(step.memoryTrend.query
          ? { query: ctx.text(step.memoryTrend.query, loop) }
          : { selector: `namespace="${target.namespace}",pod=~"${target.deployment}-.*"` }),
        windowSeconds: durationMs(step.memoryTrend.window ?? '30m') / 1000,
        ...(step.memoryTrend.thresholdBytesPerSecond
          ? { thresholdBytesPerSecond: step.memoryTrend.thresholdBytesPerSecond }
          : {}),
      }),
    );
    if (!trend) return { outcome: 'failed' };
    incident.note('diagnostic', `Memory trend: ${trend.verdict}`, { leak: trend.leak });
    const outcome = trend.noData ? 'no-data' : trend.leak ? 'leak' : 'steady';
    return { outcome, fields: { bytesPerSecond: trend.slopeBytesPerSecond, verdict: trend.verdict } };
  }
  if ('traceSettings' in step) {
    const target = ctx.target(step.traceSettings.on, loop);
    const { container, minSamplerRatio } = step.traceSettings;
    const settings = await tryIt('trace export settings', () =>
      diagnostics.checkTraceExportSettings({
        ...target,
        ...(container ? { container } : {}),
        ...(minSamplerRatio !== undefined ? { minSamplerRatio } : {}),
      }),
    );
    if (!settings) return { outcome: 'failed' };
    // Each finding is reported, with what was seen and what seed 004 recommends.
    incident.note('diagnostic', `Trace settings: ${settings.verdict}\n${findingLines(settings.findings)}`, {
      findings: settings.found,
      mitigationEnv: settings.mitigationEnv,
    });
    const env = settings.mitigationEnv;
    return {
      outcome: settings.found > 0 ? 'findings' : 'ok',
      fields: {
        found: settings.found,
        verdict: settings.verdict,
        bspMaxQueueSize: env.OTEL_BSP_MAX_QUEUE_SIZE ?? '',
        bspScheduleDelay: env.OTEL_BSP_SCHEDULE_DELAY ?? '',
        bspExportTimeout: env.OTEL_BSP_EXPORT_TIMEOUT ?? '',
      },
    };
  }
  if ('collectorDrops' in step) {
    const spec = step.collectorDrops;
    const drops = await tryIt('collector drop counters', () =>
      diagnostics.checkCollectorDrops({
        ...(spec.selector ? { selector: ctx.text(spec.selector, loop) } : {}),
        receivers: ctx.names(spec.receivers, loop),
        processors: ctx.names(spec.processors, loop),
        exporters: ctx.names(spec.exporters, loop),
        ...(spec.window ? { windowSeconds: durationMs(spec.window) / 1000 } : {}),
      }),
    );
    if (!drops) return { outcome: 'failed' };
    incident.note('diagnostic', `Collector: ${drops.verdict}\n${findingLines(drops.findings)}`, {
      findings: drops.found,
      lostSpans: drops.lostSpans,
    });
    return {
      outcome: drops.noData ? 'no-data' : drops.found > 0 ? 'findings' : 'ok',
      fields: {
        found: drops.found,
        lostSpans: drops.lostSpans,
        acceptedSpans: drops.acceptedSpans,
        verdict: drops.verdict,
      },
    };
  }
  if ('report' in step) return ctx.report(step.report.title);
  throw ApplicationFailure.nonRetryable(`step ${step.id}: unknown diagnostic ${kind}`, ErrorType.INVALID_INPUT);
}

/** One line per trace-loss setting judged: FINDING/ok/unknown, what is there, what is recommended. */
function findingLines(findings: TraceLossFinding[]): string {
  return findings
    .map((f) =>
      f.status === 'ok'
        ? `ok ${f.setting}: ${f.observed}`
        : `${f.status === 'finding' ? 'FINDING' : 'UNKNOWN'} ${f.check} ${f.setting}: ${f.observed} (recommended ${f.recommended}) — ${f.message}`,
    )
    .join('\n');
}

function stringParam(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function numberParam(value: unknown): number | undefined {
  return typeof value === 'number' ? value : undefined;
}

function crashedContainers(pods: PodSummary[]): { pod: string; container: string }[] {
  return pods.flatMap((pod) =>
    pod.containers.filter((c) => c.lastTermination).map((c) => ({ pod: pod.name, container: c.name })),
  );
}

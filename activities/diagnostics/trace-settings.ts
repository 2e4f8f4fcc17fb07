/**
 * Seed 004 chapter 1, checks 1–4, on the Deployment's pod template: the SDK's environment (sampler,
 * propagators, batch span processor) and graceful shutdown (preStop, terminationGracePeriodSeconds).
 * Pure: judgeTraceSettings takes the Deployment as the API server returned it.
 *
 * Defaults follow the OpenTelemetry SDK environment specification: sampler parentbased_always_on,
 * ratio 1.0, propagators tracecontext,baggage, queue 2048, schedule delay 5000 ms, export timeout
 * 30000 ms, batch 512; a pod's grace period is 30 s. An unset variable is judged at its default.
 */
import type { V1Container, V1Deployment } from '@kubernetes/client-node';
import { templateContainer } from '../kubernetes/kubectl';
import { roundFigure } from './analysis';
import {
  MESSAGE_CHARS,
  SDK,
  TRACE_LOSS_DEFAULTS,
  clip,
  envReader,
  finding,
  unreadable,
  wholeNumber,
  type EnvValue,
} from './trace-loss-findings';
import type { TraceLossFinding, TraceSettingsInput, TraceSettingsReport } from './types';

function samplerFindings(read: (name: string) => EnvValue, minRatio: number): TraceLossFinding[] {
  const findings: TraceLossFinding[] = [];
  const disabled = read('OTEL_SDK_DISABLED');
  if (disabled.kind === 'set' && disabled.value.trim().toLowerCase() === 'true') {
    findings.push(
      finding(
        'sampler',
        'OTEL_SDK_DISABLED',
        'finding',
        'true',
        null,
        'false (or unset)',
        'OTEL_SDK_DISABLED=true: the SDK is a no-op and records no span at all',
      ),
    );
  }
  const recommended = `parentbased_traceidratio with a ratio ≥ ${minRatio}`;
  const samplerEnv = read('OTEL_TRACES_SAMPLER');
  if (samplerEnv.kind === 'reference')
    return [...findings, unreadable('sampler', 'OTEL_TRACES_SAMPLER', samplerEnv.from, recommended)];
  const sampler =
    samplerEnv.kind === 'set' && samplerEnv.value.trim() ? samplerEnv.value.trim().toLowerCase() : undefined;
  const name = sampler ?? SDK.sampler;
  const shown = sampler ?? `unset (SDK default ${SDK.sampler})`;
  if (name === 'always_off' || name === 'parentbased_always_off') {
    findings.push(
      finding(
        'sampler',
        'OTEL_TRACES_SAMPLER',
        'finding',
        shown,
        0,
        recommended,
        `OTEL_TRACES_SAMPLER=${name} samples no trace this service starts`,
      ),
    );
    return findings;
  }
  if (name === 'always_on' || name === 'parentbased_always_on') {
    findings.push(
      finding('sampler', 'OTEL_TRACES_SAMPLER', 'ok', shown, 1, recommended, `${name}: every trace is sampled`),
    );
    return findings;
  }
  if (name !== 'traceidratio' && name !== 'parentbased_traceidratio') {
    findings.push(
      finding(
        'sampler',
        'OTEL_TRACES_SAMPLER',
        'unknown',
        shown,
        null,
        recommended,
        `${name} decides elsewhere (a remote or vendor sampler); check its configured rate`,
      ),
    );
    return findings;
  }
  const argEnv = read('OTEL_TRACES_SAMPLER_ARG');
  if (argEnv.kind === 'reference') {
    findings.push(unreadable('sampler', 'OTEL_TRACES_SAMPLER_ARG', argEnv.from, `≥ ${minRatio}`));
    return findings;
  }
  const argText = argEnv.kind === 'set' ? argEnv.value.trim() : '';
  const ratio = argText === '' ? SDK.samplerArg : Number(argText);
  if (!Number.isFinite(ratio) || ratio < 0 || ratio > 1) {
    findings.push(
      finding(
        'sampler',
        'OTEL_TRACES_SAMPLER_ARG',
        'finding',
        argText,
        null,
        `a ratio in [0, 1], ≥ ${minRatio}`,
        `OTEL_TRACES_SAMPLER_ARG=${argText} is not a ratio in [0, 1]: SDKs ignore it or refuse to start the sampler`,
      ),
    );
    return findings;
  }
  const observed = argText === '' ? `unset (SDK default ${SDK.samplerArg})` : argText;
  findings.push(
    ratio < minRatio
      ? finding(
          'sampler',
          'OTEL_TRACES_SAMPLER_ARG',
          'finding',
          observed,
          ratio,
          `≥ ${minRatio}`,
          `${name} at ${roundFigure(ratio)}: only ${roundFigure(ratio * 100)}% of the traces this service starts are kept (below ${minRatio})`,
        )
      : finding(
          'sampler',
          'OTEL_TRACES_SAMPLER_ARG',
          'ok',
          observed,
          ratio,
          `≥ ${minRatio}`,
          `${name} at ${roundFigure(ratio)}: ${roundFigure(ratio * 100)}% of traces kept`,
        ),
  );
  return findings;
}

function propagationFindings(read: (name: string) => EnvValue): TraceLossFinding[] {
  const env = read('OTEL_PROPAGATORS');
  if (env.kind === 'reference') return [unreadable('propagation', 'OTEL_PROPAGATORS', env.from, SDK.propagators)];
  const text = env.kind === 'set' ? env.value.trim() : '';
  const list = (text || SDK.propagators)
    .split(',')
    .map((p) => p.trim().toLowerCase())
    .filter(Boolean);
  const observed = text || `unset (SDK default ${SDK.propagators})`;
  if (list.includes('tracecontext')) {
    return [
      finding(
        'propagation',
        'OTEL_PROPAGATORS',
        'ok',
        observed,
        null,
        SDK.propagators,
        'W3C tracecontext is propagated',
      ),
    ];
  }
  const others = list.filter((p) => p !== 'none' && p !== 'tracecontext' && p !== 'baggage');
  const recommended = ['tracecontext', 'baggage', ...others].join(',');
  const why = list.includes('none')
    ? 'propagates no context at all: every outgoing call starts a new trace'
    : `lacks tracecontext: services expecting W3C traceparent headers start new traces (broken chains)`;
  return [
    finding(
      'propagation',
      'OTEL_PROPAGATORS',
      'finding',
      observed,
      null,
      recommended,
      `OTEL_PROPAGATORS=${observed} ${why}`,
    ),
  ];
}

interface BatchFigures {
  exportTimeoutMs: number;
}

function batchFindings(
  read: (name: string) => EnvValue,
  limits: { minQueueSize: number; maxScheduleDelayMs: number; maxExportTimeoutMs: number },
  mitigationEnv: Record<string, string>,
): { findings: TraceLossFinding[]; figures: BatchFigures } {
  const findings: TraceLossFinding[] = [];
  const exporter = read('OTEL_TRACES_EXPORTER');
  if (exporter.kind === 'set' && exporter.value.split(',').some((e) => e.trim().toLowerCase() === 'none')) {
    findings.push(
      finding(
        'batchExporter',
        'OTEL_TRACES_EXPORTER',
        'finding',
        exporter.value,
        null,
        'otlp',
        'OTEL_TRACES_EXPORTER=none: no span leaves the process (the extreme-case OOM mitigation of 000 §6.2 left in place?)',
      ),
    );
  }
  /** One numeric BSP variable: its effective value, and a finding when on the wrong side of the limit. */
  const numeric = (
    name: string,
    sdkDefault: number,
    unit: string,
    limit: number,
    tooLow: boolean,
    why: string,
  ): number => {
    const env = read(name);
    const recommended = `${tooLow ? '≥' : '≤'} ${limit}${unit}`;
    if (env.kind === 'reference') {
      findings.push(unreadable('batchExporter', name, env.from, recommended));
      return sdkDefault;
    }
    const text = env.kind === 'set' ? env.value.trim() : '';
    const parsed = text === '' ? undefined : wholeNumber(text);
    const value = parsed ?? sdkDefault;
    const observed =
      text === ''
        ? `unset (SDK default ${sdkDefault}${unit})`
        : parsed === undefined
          ? `${text} (not a whole number: SDK default ${sdkDefault}${unit})`
          : `${text}${unit}`;
    const bad = tooLow ? value < limit : value > limit;
    if (bad) mitigationEnv[name] = String(limit);
    findings.push(
      finding(
        'batchExporter',
        name,
        bad ? 'finding' : 'ok',
        observed,
        value,
        recommended,
        bad ? `${name} ${value}${unit}: ${why}` : `${name} ${value}${unit}`,
      ),
    );
    return value;
  };
  const queueSize = numeric(
    'OTEL_BSP_MAX_QUEUE_SIZE',
    SDK.queueSize,
    '',
    limits.minQueueSize,
    true,
    `a full queue drops new spans under load (seed 004: ${limits.minQueueSize})`,
  );
  numeric(
    'OTEL_BSP_SCHEDULE_DELAY',
    SDK.scheduleDelayMs,
    ' ms',
    limits.maxScheduleDelayMs,
    false,
    'spans wait long in the queue, which fills under load and loses more on a crash (seed 004: 1 s)',
  );
  const exportTimeoutMs = numeric(
    'OTEL_BSP_EXPORT_TIMEOUT',
    SDK.exportTimeoutMs,
    ' ms',
    limits.maxExportTimeoutMs,
    false,
    'a slow backend blocks the exporter while the queue overflows (seed 004: 5 s)',
  );
  const batchEnv = read('OTEL_BSP_MAX_EXPORT_BATCH_SIZE');
  const batch = batchEnv.kind === 'set' ? wholeNumber(batchEnv.value) : undefined;
  // The queue the mitigation sets, when it sets one: a batch above it is as wrong after as before.
  const queueAfter = Number(mitigationEnv.OTEL_BSP_MAX_QUEUE_SIZE ?? queueSize);
  if (batch !== undefined && batch > queueAfter) {
    findings.push(
      finding(
        'batchExporter',
        'OTEL_BSP_MAX_EXPORT_BATCH_SIZE',
        'finding',
        String(batch),
        batch,
        `≤ OTEL_BSP_MAX_QUEUE_SIZE (${queueAfter})`,
        `a batch of ${batch} cannot be larger than the queue of ${queueAfter}; SDKs refuse or clamp it`,
      ),
    );
  }
  return { findings, figures: { exportTimeoutMs } };
}

/** Seconds a preStop hook holds the pod before SIGTERM, when it says: `sleep: {seconds}` or an exec `sleep N`. */
function preStopSeconds(container: V1Container): { present: boolean; seconds: number; shown: string } {
  const hook = container.lifecycle?.preStop;
  if (!hook) return { present: false, seconds: 0, shown: 'none' };
  const sleep = (hook as { sleep?: { seconds?: number } }).sleep;
  if (sleep?.seconds !== undefined) return { present: true, seconds: sleep.seconds, shown: `sleep ${sleep.seconds}s` };
  if (hook.exec?.command) {
    const command = hook.exec.command.join(' ');
    const match = /\bsleep\s+(\d+)/.exec(command);
    return { present: true, seconds: match ? Number(match[1]) : 0, shown: `exec: ${command}` };
  }
  if (hook.httpGet) return { present: true, seconds: 0, shown: `httpGet ${hook.httpGet.path ?? '/'}` };
  return { present: true, seconds: 0, shown: 'tcpSocket' };
}

function shutdownFindings(deployment: V1Deployment, container: V1Container, exportTimeoutMs: number) {
  const hook = preStopSeconds(container);
  const findings: TraceLossFinding[] = [
    hook.present
      ? finding(
          'shutdown',
          'preStop',
          'ok',
          hook.shown,
          hook.seconds,
          'a preStop hook',
          'a preStop hook runs before SIGTERM',
        )
      : finding(
          'shutdown',
          'preStop',
          'finding',
          'none',
          null,
          'a preStop hook (e.g. sleep 5) before SIGTERM',
          `container ${container.name} has no preStop hook: the pod gets SIGTERM while still in the endpoints, and spans still queued are lost unless the process flushes its TracerProvider`,
        ),
  ];
  const grace = deployment.spec?.template.spec?.terminationGracePeriodSeconds ?? SDK.graceSeconds;
  const needed = hook.seconds + Math.ceil(exportTimeoutMs / 1000);
  const shown =
    deployment.spec?.template.spec?.terminationGracePeriodSeconds === undefined
      ? `unset (default ${SDK.graceSeconds}s)`
      : `${grace}s`;
  findings.push(
    grace < needed
      ? finding(
          'shutdown',
          'terminationGracePeriodSeconds',
          'finding',
          shown,
          grace,
          `≥ ${needed}s`,
          `a grace period of ${grace}s is shorter than the preStop hook (${hook.seconds}s) plus one export timeout (${Math.ceil(exportTimeoutMs / 1000)}s): the final flush is killed`,
        )
      : finding(
          'shutdown',
          'terminationGracePeriodSeconds',
          'ok',
          shown,
          grace,
          `≥ ${needed}s`,
          `${grace}s covers the preStop hook and a final export`,
        ),
  );
  return findings;
}

/** Checks 1–4 on a Deployment as the API server returned it. Pure. */
export function judgeTraceSettings(deployment: V1Deployment, input: TraceSettingsInput): TraceSettingsReport {
  const limits = {
    minSamplerRatio: input.minSamplerRatio ?? TRACE_LOSS_DEFAULTS.minSamplerRatio,
    minQueueSize: input.minQueueSize ?? TRACE_LOSS_DEFAULTS.minQueueSize,
    maxScheduleDelayMs: input.maxScheduleDelayMs ?? TRACE_LOSS_DEFAULTS.maxScheduleDelayMs,
    maxExportTimeoutMs: input.maxExportTimeoutMs ?? TRACE_LOSS_DEFAULTS.maxExportTimeoutMs,
  };
  const container = templateContainer(deployment, input.container);
  const read = envReader(container);
  const mitigationEnv: Record<string, string> = {};
  const batch = batchFindings(read, limits, mitigationEnv);
  const findings = [
    ...samplerFindings(read, limits.minSamplerRatio),
    ...propagationFindings(read),
    ...batch.findings,
    ...shutdownFindings(deployment, container, batch.figures.exportTimeoutMs),
  ];
  const wanting = findings.filter((f) => f.status === 'finding');
  const target = `${input.namespace}/${input.deployment}`;
  const verdict =
    wanting.length === 0
      ? `no trace-loss setting found in ${target} (${findings.length} checked)`
      : `${wanting.length} trace-loss finding${wanting.length === 1 ? '' : 's'} in ${target}: ${wanting.map((f) => f.setting).join(', ')}`;
  return {
    namespace: input.namespace,
    deployment: input.deployment,
    container: container.name,
    findings,
    found: wanting.length,
    mitigationEnv,
    verdict: clip(verdict, MESSAGE_CHARS),
  };
}

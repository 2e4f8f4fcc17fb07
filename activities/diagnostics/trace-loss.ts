/**
 * Seed 004 chapter 1: five checks for a service whose traces go missing. Four read the
 * Deployment's pod template — the SDK's environment (sampler, propagators, batch span processor)
 * and graceful shutdown (preStop, terminationGracePeriodSeconds) — and one asks Prometheus for the
 * collector's own drop counters. The judging is pure (judgeTraceSettings, judgeCollectorDrops) so
 * tests feed it objects; the activities only fetch.
 *
 * Defaults follow the OpenTelemetry SDK environment specification: sampler parentbased_always_on,
 * ratio 1.0, propagators tracecontext,baggage, queue 2048, schedule delay 5000 ms, export timeout
 * 30000 ms, batch 512; a pod's grace period is 30 s. An unset variable is judged at its default.
 */
import type { V1Container, V1Deployment } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { ErrorType } from '../../common/errors';
import type { KubeApi } from '../kubernetes/api';
import { templateContainer } from '../kubernetes/kubectl';
import { roundFigure } from './analysis';
import { iso, promString, regexAlternation, type PrometheusClient } from './prometheus';
import type {
  CollectorComponentFigure,
  CollectorDropsInput,
  CollectorDropsReport,
  InstantQueryResult,
  TraceLossCheck,
  TraceLossFinding,
  TraceSettingsInput,
  TraceSettingsReport,
} from './types';

/** Seed 004 chapter 1's figures. */
export const TRACE_LOSS_DEFAULTS = {
  minSamplerRatio: 0.5,
  minQueueSize: 4096,
  maxScheduleDelayMs: 1000,
  maxExportTimeoutMs: 5000,
  queueFullRatio: 0.8,
  windowSeconds: 300,
} as const;

const SDK = {
  sampler: 'parentbased_always_on',
  samplerArg: 1,
  propagators: 'tracecontext,baggage',
  queueSize: 2048,
  scheduleDelayMs: 5000,
  exportTimeoutMs: 30_000,
  batchSize: 512,
  graceSeconds: 30,
} as const;

const OBSERVED_CHARS = 120;
const MESSAGE_CHARS = 400;
const MAX_COMPONENTS = 10;
const MAX_WINDOW_SECONDS = 86_400;

const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

function finding(
  check: TraceLossCheck,
  setting: string,
  status: TraceLossFinding['status'],
  observed: string,
  value: number | null,
  recommended: string,
  message: string,
): TraceLossFinding {
  return {
    check,
    setting,
    status,
    observed: clip(observed, OBSERVED_CHARS),
    value: value !== null && Number.isFinite(value) ? value : null,
    recommended: clip(recommended, OBSERVED_CHARS),
    message: clip(message, MESSAGE_CHARS),
  };
}

/** What the container's env says of one variable. */
type EnvValue =
  | { kind: 'set'; value: string }
  | { kind: 'unset' }
  /** Set from a Secret/ConfigMap key, or possibly by an envFrom source: not readable from the spec. */
  | { kind: 'reference'; from: string };

function envReader(container: V1Container) {
  const env = container.env ?? [];
  const envFrom = (container.envFrom ?? []).map((source) =>
    source.configMapRef ? `ConfigMap ${source.configMapRef.name}` : `Secret ${source.secretRef?.name ?? '?'}`,
  );
  return (name: string): EnvValue => {
    // The last definition wins, as in the kubelet.
    const entry = env.findLast((e) => e.name === name);
    if (entry?.valueFrom) {
      const ref = entry.valueFrom.configMapKeyRef
        ? `ConfigMap ${entry.valueFrom.configMapKeyRef.name}`
        : entry.valueFrom.secretKeyRef
          ? `Secret ${entry.valueFrom.secretKeyRef.name}`
          : 'a field reference';
      return { kind: 'reference', from: ref };
    }
    if (entry) return { kind: 'set', value: entry.value ?? '' };
    if (envFrom.length > 0) return { kind: 'reference', from: `envFrom (${envFrom.join(', ')})` };
    return { kind: 'unset' };
  };
}

const unreadable = (check: TraceLossCheck, name: string, from: string, recommended: string) =>
  finding(
    check,
    name,
    'unknown',
    `from ${from}`,
    null,
    recommended,
    `${name} comes from ${from}; the pod template does not say its value — read it there`,
  );

/** A whole number ≥ 0 from an env value, as the SDKs parse it; undefined when it is not one. */
function wholeNumber(text: string): number | undefined {
  const trimmed = text.trim();
  return /^\d+$/.test(trimmed) ? Number(trimmed) : undefined;
}

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

// ---------------------------------------------------------------------------------------------
// Check 5: the collector's own counters.

/** The collector's counters, with or without the `_total` suffix (releases differ). */
const COUNTERS = [
  {
    metric: 'otelcol_receiver_refused_spans',
    kind: 'receiver',
    why: 'receivers refused spans back to their senders (a full queue or memory limiter downstream)',
  },
  {
    metric: 'otelcol_processor_dropped_spans',
    kind: 'processor',
    why: 'processors dropped spans (memory limiter, filters)',
  },
  {
    metric: 'otelcol_exporter_send_failed_spans',
    kind: 'exporter',
    why: 'exporters failed to send spans to the backend (timeouts, refusals)',
  },
  {
    metric: 'otelcol_exporter_enqueue_failed_spans',
    kind: 'exporter',
    why: 'exporters could not queue spans: their sending queue was full',
  },
] as const;

type ComponentKind = 'receiver' | 'processor' | 'exporter';

export interface CollectorQueryResults {
  accepted: InstantQueryResult;
  counters: Record<(typeof COUNTERS)[number]['metric'], InstantQueryResult>;
  queueSize: InstantQueryResult;
  queueCapacity: InstantQueryResult;
}

/** The queries check 5 asks, by name. Exported so a test (or an SRE) sees exactly what is asked. */
export function collectorDropQueries(input: CollectorDropsInput, windowSeconds: number) {
  const base = input.selector?.trim() ? [input.selector.trim()] : [];
  const names: Record<ComponentKind, string[] | undefined> = {
    receiver: input.receivers,
    processor: input.processors,
    exporter: input.exporters,
  };
  const matchers = (kind: ComponentKind) => {
    const list = names[kind];
    return [...base, ...(list?.length ? [`${kind}=~${promString(regexAlternation(list))}`] : [])];
  };
  const w = `${windowSeconds}s`;
  // A counter's rise over the window; a series first seen inside the window (a component whose
  // first failure created it) counts with its whole value, which increase() would miss.
  const rise = (metric: string, kind: ComponentKind) => {
    const sel = [`__name__=~${promString(`${metric}(_total)?`)}`, ...matchers(kind)].join(',');
    return `sum by (${kind}) ((increase({${sel}}[${w}]) and {${sel}} offset ${w}) or {${sel}})`;
  };
  const exporterSel = matchers('exporter').join(',');
  return {
    accepted: rise('otelcol_receiver_accepted_spans', 'receiver'),
    counters: Object.fromEntries(COUNTERS.map((c) => [c.metric, rise(c.metric, c.kind)])) as Record<
      (typeof COUNTERS)[number]['metric'],
      string
    >,
    queueSize: `max by (exporter) (max_over_time(otelcol_exporter_queue_size{${exporterSel}}[${w}]))`,
    queueCapacity: `max by (exporter) (otelcol_exporter_queue_capacity{${exporterSel}})`,
  };
}

/** Check 5 on the query results. Pure. */
export function judgeCollectorDrops(
  results: CollectorQueryResults,
  window: { from: number; to: number; queueFullRatio: number },
): CollectorDropsReport {
  const figures = (result: InstantQueryResult, kind: string, metric: string): CollectorComponentFigure[] =>
    result.series
      .filter((s) => s.value !== null)
      .map((s) => ({ kind, name: s.metric[kind] ?? '?', metric, value: Math.max(0, Math.round(s.value!)) }));
  const total = (list: CollectorComponentFigure[]) => list.reduce((sum, f) => sum + f.value, 0);
  const seconds = Math.round(window.to - window.from);
  const components: CollectorComponentFigure[] = [];
  const findings: TraceLossFinding[] = [];
  let lostSpans = 0;
  for (const counter of COUNTERS) {
    const list = figures(results.counters[counter.metric], counter.kind, counter.metric);
    const sum = total(list);
    lostSpans += sum;
    const culprits = list.filter((f) => f.value > 0).sort((a, b) => b.value - a.value);
    components.push(...culprits);
    const observed = list.length === 0 ? '0 (no series)' : `${sum} in ${seconds}s`;
    findings.push(
      sum > 0
        ? finding(
            'collectorDrops',
            counter.metric,
            'finding',
            observed,
            sum,
            '0',
            `${sum} spans in the last ${seconds}s: ${counter.why} — ${culprits
              .slice(0, 3)
              .map((f) => `${f.kind} ${f.name} ${f.value}`)
              .join(', ')}`,
          )
        : finding('collectorDrops', counter.metric, 'ok', observed, 0, '0', `none in the last ${seconds}s`),
    );
  }
  const capacity = new Map(results.queueCapacity.series.map((s) => [s.metric.exporter ?? '?', s.value ?? 0] as const));
  const queues = results.queueSize.series
    .map((s) => {
      const name = s.metric.exporter ?? '?';
      const cap = capacity.get(name) ?? 0;
      return { name, size: s.value ?? 0, capacity: cap, ratio: cap > 0 ? (s.value ?? 0) / cap : 0 };
    })
    .sort((a, b) => b.ratio - a.ratio);
  const fullest = queues[0];
  const full = queues.filter((q) => q.capacity > 0 && q.ratio >= window.queueFullRatio);
  components.push(
    ...full.map((q) => ({ kind: 'exporter', name: q.name, metric: 'otelcol_exporter_queue_size', value: q.size })),
  );
  const queueSetting = 'otelcol_exporter_queue_size/otelcol_exporter_queue_capacity';
  const recommendedQueue = `< ${Math.round(window.queueFullRatio * 100)}% of capacity`;
  findings.push(
    !fullest || fullest.capacity === 0
      ? finding(
          'collectorDrops',
          queueSetting,
          'ok',
          'no sending queue series',
          null,
          recommendedQueue,
          'no exporter in scope has a sending queue: none can fill',
        )
      : full.length > 0
        ? finding(
            'collectorDrops',
            queueSetting,
            'finding',
            `${fullest.size}/${fullest.capacity} (${fullest.name})`,
            fullest.ratio,
            recommendedQueue,
            `sending queues reached ${full.map((q) => `${q.name} ${q.size}/${q.capacity}`).join(', ')} in the last ${seconds}s: the next spans are refused or dropped (raise sending_queue.queue_size or the backend's capacity)`,
          )
        : finding(
            'collectorDrops',
            queueSetting,
            'ok',
            `${fullest.size}/${fullest.capacity} (${fullest.name})`,
            fullest.ratio,
            recommendedQueue,
            `fullest sending queue ${fullest.name} at ${Math.round(fullest.ratio * 100)}% at most`,
          ),
  );
  const acceptedSpans = total(figures(results.accepted, 'receiver', 'otelcol_receiver_accepted_spans'));
  const noData =
    results.accepted.empty &&
    COUNTERS.every((c) => results.counters[c.metric].empty) &&
    results.queueSize.empty &&
    results.queueCapacity.empty;
  if (noData) {
    for (const f of findings) {
      f.status = 'unknown';
      f.message = 'no collector series match: is the collector’s own telemetry scraped, and the selector right?';
    }
  }
  const wanting = findings.filter((f) => f.status === 'finding');
  const verdict = noData
    ? `no data: no otelcol_* series match in the last ${seconds}s`
    : wanting.length === 0
      ? `the collector lost no spans in the last ${seconds}s (${acceptedSpans} accepted)`
      : `the collector lost ${lostSpans} spans in the last ${seconds}s (${acceptedSpans} accepted): ${wanting.map((f) => f.setting.replace(/^otelcol_/, '')).join(', ')}`;
  return {
    from: iso(window.from),
    to: iso(window.to),
    findings,
    found: wanting.length,
    acceptedSpans,
    lostSpans,
    components: components.sort((a, b) => b.value - a.value).slice(0, MAX_COMPONENTS),
    noData,
    verdict: clip(verdict, MESSAGE_CHARS),
  };
}

export function createTraceLossChecks(prometheus: PrometheusClient, kube: KubeApi | undefined) {
  return {
    async checkTraceExportSettings(input: TraceSettingsInput): Promise<TraceSettingsReport> {
      if (!kube) {
        throw ApplicationFailure.nonRetryable(
          'checkTraceExportSettings needs a kubeconfig (the diagnostics were built without one)',
          ErrorType.NOT_CONFIGURED,
        );
      }
      const deployment = await kube.readDeployment(input);
      return judgeTraceSettings(deployment, input);
    },

    async checkCollectorDrops(input: CollectorDropsInput): Promise<CollectorDropsReport> {
      const windowSeconds = input.windowSeconds ?? TRACE_LOSS_DEFAULTS.windowSeconds;
      if (!(windowSeconds > 0 && windowSeconds <= MAX_WINDOW_SECONDS)) {
        throw ApplicationFailure.nonRetryable(
          `windowSeconds must be in (0, ${MAX_WINDOW_SECONDS}], got ${windowSeconds}`,
          ErrorType.INVALID_INPUT,
        );
      }
      const { from, to } = prometheus.rangeWindow(windowSeconds, input.end, undefined);
      const queries = collectorDropQueries(input, Math.round(windowSeconds));
      const ask = (query: string) => prometheus.queryPrometheus({ query, time: to });
      const [accepted, queueSize, queueCapacity, ...counted] = await Promise.all([
        ask(queries.accepted),
        ask(queries.queueSize),
        ask(queries.queueCapacity),
        ...COUNTERS.map((c) => ask(queries.counters[c.metric])),
      ]);
      const counters = Object.fromEntries(
        COUNTERS.map((c, i) => [c.metric, counted[i]!]),
      ) as CollectorQueryResults['counters'];
      return judgeCollectorDrops(
        { accepted: accepted!, queueSize: queueSize!, queueCapacity: queueCapacity!, counters },
        { from, to, queueFullRatio: input.queueFullRatio ?? TRACE_LOSS_DEFAULTS.queueFullRatio },
      );
    },
  };
}

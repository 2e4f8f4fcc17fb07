/**
 * The workflow interceptors every bundle carries (worker/bundle.ts; not a workflow: workflows/index.ts
 * does not export it). OpenTelemetry's interceptors (@temporalio/interceptors-opentelemetry) trace an
 * incident only when its start carried a trace context — `firebreak start` with
 * OTEL_EXPORTER_OTLP_ENDPOINT set adds one through its client interceptor — and pass every call
 * straight through otherwise.
 *
 * Why not always: their spans wrap each activity, timer and child in async functions, which resolve
 * a few microtasks later than the bare call. The kernel's concurrent loops (the Slack courier beside
 * the runbook) then issue their commands in another order, and a history recorded without the
 * interceptors no longer replays (test/replay.test.ts). Deciding from the start event's headers is
 * deterministic: a replay sees the same headers, so an incident keeps the behaviour it started with,
 * whatever the worker's configuration now; and an untraced incident pays nothing.
 */
import type * as Otel from '@temporalio/interceptors-opentelemetry/lib/workflow';
import type {
  WorkflowInboundCallsInterceptor,
  WorkflowInterceptors,
  WorkflowInternalsInterceptor,
  WorkflowOutboundCallsInterceptor,
} from '@temporalio/workflow';

/** The header Temporal's OpenTelemetry interceptors carry the trace context in. */
export const TRACE_HEADER = '_tracer-data';

/**
 * OpenTelemetry's workflow module, required when an incident turns out to be traced, not imported:
 * the worker evaluates the bundle's modules again for every workflow it creates (reused V8
 * context), and this one brings ~100 modules of OpenTelemetry and a tracer provider per workflow —
 * held by every cached incident, traced or not (docs/performance.md, worker memory). Deterministic
 * either way: a traced incident loads it in its first activation, on replay too, before its first
 * span; an untraced one never calls it.
 */
let otelModule: typeof Otel | undefined;
function otel(): typeof Otel {
  return (otelModule ??= loadOtel());
}

const OTEL_WORKFLOW_MODULE = '@temporalio/interceptors-opentelemetry/lib/workflow';
/** The workflow bundle has webpack's require (kept as a literal call it resolves); plain Node ESM makes one. */
function loadOtel(): typeof Otel {
  if (typeof require === 'function') {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded lazily on purpose (above)
    return require('@temporalio/interceptors-opentelemetry/lib/workflow') as typeof Otel;
  }
  const { createRequire } = process.getBuiltinModule('node:module');
  return createRequire(import.meta.url)(OTEL_WORKFLOW_MODULE) as typeof Otel;
}

/**
 * The methods of OpenTelemetry's three workflow interceptors (SDK 1.24), wrapped before it is
 * known whether the incident is traced. A name OpenTelemetry lacks passes straight through;
 * test/workflows/tracing.test.ts fails when the SDK adds one that is not listed here.
 */
export const TRACED_METHODS = {
  inbound: ['execute', 'handleSignal', 'handleUpdate', 'validateUpdate', 'handleQuery'],
  outbound: [
    'scheduleActivity',
    'scheduleLocalActivity',
    'startNexusOperation',
    'startChildWorkflowExecution',
    'continueAsNew',
    'signalWorkflow',
    'getLogAttributes',
    'getMetricTags',
  ],
  internals: ['dispose'],
} as const;

type Method = (input: unknown, next: (input: unknown) => unknown) => unknown;

/** Each of `names`, calling `target()`'s method only while `traced()`; otherwise `next` directly. */
function whenTraced(names: readonly string[], target: () => object, traced: () => boolean): Record<string, Method> {
  const methods: Record<string, Method> = {};
  for (const name of names) {
    methods[name] = (input, next) => {
      if (!traced()) return next(input);
      const instance = target() as Record<string, unknown>;
      const method = instance[name];
      return typeof method === 'function' ? (method as Method).call(instance, input, next) : next(input);
    };
  }
  return methods;
}

export const interceptors = (): WorkflowInterceptors => {
  let traced = false;
  const isTraced = () => traced;
  let tracing: { inbound: Otel.OpenTelemetryInboundInterceptor; outbound: object; internals: object } | undefined;
  // Made once the first traced call comes (execute, which decides `traced`, is always first).
  const instances = () =>
    (tracing ??= {
      inbound: new (otel().OpenTelemetryInboundInterceptor)(),
      outbound: new (otel().OpenTelemetryOutboundInterceptor)(),
      internals: new (otel().OpenTelemetryInternalsInterceptor)(),
    });
  return {
    inbound: [
      {
        ...whenTraced(TRACED_METHODS.inbound, () => instances().inbound, isTraced),
        execute: (input, next) => {
          traced = input.headers[TRACE_HEADER] !== undefined;
          return traced ? instances().inbound.execute(input, next) : next(input);
        },
      } as WorkflowInboundCallsInterceptor,
    ],
    outbound: [
      whenTraced(TRACED_METHODS.outbound, () => instances().outbound, isTraced) as WorkflowOutboundCallsInterceptor,
    ],
    internals: [
      whenTraced(TRACED_METHODS.internals, () => instances().internals, isTraced) as WorkflowInternalsInterceptor,
    ],
  };
};

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
import {
  OpenTelemetryInboundInterceptor,
  OpenTelemetryInternalsInterceptor,
  OpenTelemetryOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry/lib/workflow';
import type {
  WorkflowInboundCallsInterceptor,
  WorkflowInterceptors,
  WorkflowInternalsInterceptor,
  WorkflowOutboundCallsInterceptor,
} from '@temporalio/workflow';

/** The header Temporal's OpenTelemetry interceptors carry the trace context in. */
export const TRACE_HEADER = '_tracer-data';

type Method = (input: unknown, next: (input: unknown) => unknown) => unknown;

/** Every interceptor method of `target`, called only while `traced()`; otherwise `next` directly. */
function whenTraced<T extends object>(target: T, traced: () => boolean): Record<string, Method> {
  const methods: Record<string, Method> = {};
  for (const name of Object.getOwnPropertyNames(Object.getPrototypeOf(target))) {
    const method = (target as Record<string, unknown>)[name];
    if (name === 'constructor' || typeof method !== 'function') continue;
    methods[name] = (input, next) => (traced() ? (method as Method).call(target, input, next) : next(input));
  }
  return methods;
}

export const interceptors = (): WorkflowInterceptors => {
  let traced = false;
  const isTraced = () => traced;
  const inbound = new OpenTelemetryInboundInterceptor();
  const tracedInbound = whenTraced(inbound, isTraced);
  return {
    inbound: [
      {
        ...tracedInbound,
        execute: (input, next) => {
          traced = input.headers[TRACE_HEADER] !== undefined;
          return traced ? inbound.execute(input, next) : next(input);
        },
      } as WorkflowInboundCallsInterceptor,
    ],
    outbound: [whenTraced(new OpenTelemetryOutboundInterceptor(), isTraced) as WorkflowOutboundCallsInterceptor],
    internals: [whenTraced(new OpenTelemetryInternalsInterceptor(), isTraced) as WorkflowInternalsInterceptor],
  };
};

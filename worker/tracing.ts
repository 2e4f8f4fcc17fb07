/**
 * Temporal's OpenTelemetry interceptors on the worker's side (config/telemetry.ts starts the
 * exporter). The workflow bundle always carries the workflow interceptors (worker/bundle.ts,
 * workflows/interceptors.ts), active for the incidents whose start carried a trace context: it rides
 * in the headers of the workflow's start and of every activity it schedules, so an activity's span
 * is a child of the workflow's, itself a child of the client's start (the ingress request that
 * started the incident). Workflow spans are made in the sandbox and reach the exporter through the
 * `exporter` sink; with tracing off that sink drops them (a traced incident replayed by a worker
 * that no longer exports) and the activity interceptors are not installed.
 */
import { fileURLToPath } from 'node:url';
import type { OpenTelemetrySinks } from '@temporalio/interceptors-opentelemetry/lib/workflow/definitions';
import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry/lib/worker';
import type { InjectedSinks, WorkerInterceptors } from '@temporalio/worker';
import type { Tracing } from '../config/telemetry';

/**
 * The workflow interceptor module every bundle is built with (bundleWorkflowCode's
 * workflowInterceptorModules): OpenTelemetry's, for the incidents whose start carried a trace context.
 */
export const WORKFLOW_TRACING_MODULE = fileURLToPath(new URL('../workflows/interceptors.ts', import.meta.url));

/** The sink the workflow interceptors export through: to the span processor, or nowhere. */
export function tracingSinks(tracing: Tracing | undefined): InjectedSinks<OpenTelemetrySinks> {
  if (tracing) return { exporter: makeWorkflowExporter(tracing.spanProcessor, tracing.resource) };
  return { exporter: { export: { fn: () => undefined, callDuringReplay: false } } };
}

/** Activity spans, children of the workflow span that scheduled them (nothing when tracing is off). */
export function tracingInterceptors(tracing: Tracing | undefined): WorkerInterceptors {
  if (!tracing) return {};
  return {
    activity: [
      (ctx) => ({
        inbound: new OpenTelemetryActivityInboundInterceptor(ctx),
        outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
      }),
    ],
  };
}

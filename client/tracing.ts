/**
 * Temporal's OpenTelemetry interceptor on the client's side, for every client that starts or
 * signals incidents: the worker's (worker/start.ts) and the ingress thread's (ingress/thread-main.ts).
 * Kept apart from worker/tracing.ts, which loads the worker's interceptors.
 */
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry/lib/client';
import type { ClientInterceptors } from '@temporalio/client';
import type { Tracing } from '../config/telemetry';

/** The client's spans (start, signal, update, query), whose context the workflow's run continues. */
export function tracingClientInterceptors(tracing: Tracing | undefined): ClientInterceptors | undefined {
  return tracing ? { workflow: [new OpenTelemetryWorkflowClientInterceptor()] } : undefined;
}

/**
 * The engine's own traces: when OTEL_EXPORTER_OTLP_ENDPOINT is set, `firebreak start` registers an
 * OpenTelemetry tracer provider (W3C trace context, async-hooks context) whose spans are batched and
 * exported over OTLP/HTTP (protobuf) to `<endpoint>/v1/traces`. Spans come from the ingress (one
 * per request), Temporal's interceptors (client start/signal, workflow run, activity scheduling and
 * execution: worker/tracing.ts) and the Kubernetes calls of the activities.
 *
 * Unset, nothing is registered and the SDK is never loaded: the OpenTelemetry API's no-op tracer
 * answers every span the code asks for, and nothing is exported.
 */
import { context, propagation, trace, type Tracer } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Env } from './env';

/** The tracer name the engine's own spans (ingress, Kubernetes calls) are recorded under. */
export const TRACER_NAME = 'firebreak';

export interface Tracing {
  tracer: Tracer;
  /** Where workflow spans go (they are made in the sandbox and handed over through a sink). */
  spanProcessor: SpanProcessor;
  resource: Resource;
  /** The endpoint spans are sent to, for the start-up log. */
  url: string;
  /** Flushes what is batched and stops exporting. */
  shutdown(): Promise<void>;
}

/** OTEL_EXPORTER_OTLP_ENDPOINT is the base URL; the signal's path is appended, as the specification says. */
export function tracesUrl(endpoint: string): string {
  return `${endpoint.replace(/\/+$/, '')}/v1/traces`;
}

/** Starts exporting when OTEL_EXPORTER_OTLP_ENDPOINT is set; undefined (and no cost) otherwise. */
export async function startTracing(
  env: Pick<Env, 'OTEL_EXPORTER_OTLP_ENDPOINT' | 'OTEL_SERVICE_NAME'>,
  version: string,
): Promise<Tracing | undefined> {
  if (!env.OTEL_EXPORTER_OTLP_ENDPOINT) return undefined;
  const [{ AsyncLocalStorageContextManager }, { W3CTraceContextPropagator }, resources, sdk, { OTLPTraceExporter }] =
    await Promise.all([
      import('@opentelemetry/context-async-hooks'),
      import('@opentelemetry/core'),
      import('@opentelemetry/resources'),
      import('@opentelemetry/sdk-trace-base'),
      import('@opentelemetry/exporter-trace-otlp-proto'),
    ]);
  const resource = new resources.Resource({ 'service.name': env.OTEL_SERVICE_NAME, 'service.version': version });
  const url = tracesUrl(env.OTEL_EXPORTER_OTLP_ENDPOINT);
  const spanProcessor = new sdk.BatchSpanProcessor(new OTLPTraceExporter({ url }), {
    // A burst of incidents makes many spans at once; what does not fit is dropped, never queued unbounded.
    maxQueueSize: 4096,
    scheduledDelayMillis: 1_000,
  });
  const provider = new sdk.BasicTracerProvider({ resource, spanProcessors: [spanProcessor] });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  return {
    tracer: trace.getTracer(TRACER_NAME, version),
    spanProcessor,
    resource,
    url,
    shutdown: async () => {
      await provider.shutdown();
      trace.disable();
      propagation.disable();
      context.disable();
    },
  };
}

/**
 * One server span per request to a route (not /healthz or /metrics, which probes call every few
 * seconds), started when the request arrives and ended with its answer. The handler runs inside
 * the span's context, so the workflow start or signal it makes (Temporal's client interceptor)
 * is the span's child, and through the headers Temporal carries, so is the whole incident. A
 * `traceparent` the sender passed (a Slack proxy, a tracing gateway) is continued.
 */
import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify';

const UNTRACED = new Set(['/healthz', '/metrics']);

export function traceRequests(app: FastifyInstance, tracer: Tracer): void {
  const spans = new WeakMap<FastifyRequest, Span>();

  app.addHook('onRequest', async (request) => {
    const route = request.routeOptions.url;
    if (route === undefined || UNTRACED.has(route)) return;
    const parent = propagation.extract(ROOT_CONTEXT, request.headers);
    const span = tracer.startSpan(
      `${request.method} ${route}`,
      {
        kind: SpanKind.SERVER,
        attributes: {
          'http.request.method': request.method,
          'http.route': route,
          'url.path': request.url.split('?')[0] ?? request.url,
          'firebreak.request_id': request.id,
        },
      },
      parent,
    );
    spans.set(request, span);
  });

  app.addHook('onRoute', (route) => {
    if (UNTRACED.has(route.url)) return;
    const handler = route.handler as (
      this: FastifyInstance,
      request: FastifyRequest,
      reply: FastifyReply,
    ) => ReturnType<RouteHandlerMethod>;
    route.handler = function tracedHandler(this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) {
      const span = spans.get(request);
      if (!span) return handler.call(this, request, reply);
      return context.with(trace.setSpan(context.active(), span), () => handler.call(this, request, reply));
    };
  });

  app.addHook('onResponse', async (request, reply) => {
    const span = spans.get(request);
    if (!span) return;
    spans.delete(request);
    span.setAttribute('http.response.status_code', reply.statusCode);
    if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  });

  // A sender that hung up gets no answer, and its span no status code.
  app.addHook('onRequestAbort', async (request) => {
    const span = spans.get(request);
    if (!span) return;
    spans.delete(request);
    span.setStatus({ code: SpanStatusCode.ERROR, message: 'the request was aborted by the sender' });
    span.end();
  });
}

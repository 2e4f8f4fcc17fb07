/**
 * The HTTP app, built by a factory so tests can `inject` requests or listen on port 0. Handlers
 * verify, validate, call Temporal and answer fast; 5xx bodies never show internals.
 *
 * Routes: GET /healthz, GET /metrics, and what the route modules add (Slack commands and
 * interactions, alert webhooks). Request bodies are kept raw (`request.rawBody`) because Slack
 * and Grafana signatures are computed over the exact bytes.
 */
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Client } from '@temporalio/client';
import type { Env } from '../config/env';
import type { FileConfig } from '../config/file';
import type { IncidentPolicy } from '../common/incident';
import { MetricsRegistry } from './metrics';

declare module 'fastify' {
  interface FastifyRequest {
    /** The exact request body as received, for signature checks. */
    rawBody?: string;
  }
}

export interface HealthReport {
  ok: boolean;
  temporal: { ok: boolean; address: string; namespace: string; error?: string };
  worker: { ok: boolean; state: string; taskQueue: string };
  [extra: string]: unknown;
}

export interface AppDeps {
  client: Client;
  env: Env;
  config: FileConfig;
  policy: IncidentPolicy;
  /** Health of the parts the ingress depends on; called by GET /healthz. */
  health: () => Promise<HealthReport>;
  metrics?: MetricsRegistry;
  logger?: boolean | { level: string };
  /** Route modules to register (Slack, webhooks); each gets the same deps. */
  routes?: ((app: FastifyInstance, deps: AppDeps & { metrics: MetricsRegistry }) => void | Promise<void>)[];
}

/** Webhook bodies can be large (Alertmanager groups); anything beyond this is refused with 413. */
export const BODY_LIMIT_BYTES = 1024 * 1024;

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const metrics = deps.metrics ?? new MetricsRegistry();
  const app = Fastify({
    logger: deps.logger ?? false,
    bodyLimit: BODY_LIMIT_BYTES,
    // Slack retries slow answers; we answer fast, and never keep sockets forever.
    connectionTimeout: 10_000,
    requestTimeout: 15_000,
  });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'string' },
    (request: FastifyRequest, body: string | Buffer, done: (err: Error | null, value?: unknown) => void) => {
      const text = body.toString();
      request.rawBody = text;
      if (text.trim() === '') return done(badRequest('the request body is empty; expected a JSON object'));
      try {
        done(null, JSON.parse(text));
      } catch (err) {
        done(badRequest(`the request body is not valid JSON: ${(err as Error).message}`));
      }
    },
  );
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (request: FastifyRequest, body: string | Buffer, done: (err: Error | null, value?: unknown) => void) => {
      const text = body.toString();
      request.rawBody = text;
      done(null, Object.fromEntries(new URLSearchParams(text)));
    },
  );
  app.addContentTypeParser('*', { parseAs: 'string' }, (request, body, done) => {
    request.rawBody = body.toString();
    done(null, request.rawBody);
  });

  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, request, reply) => {
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500;
    if (status >= 500) {
      request.log.error({ err: error }, 'request failed');
      return reply.status(status).send({ error: 'internal error', requestId: request.id });
    }
    const message =
      error.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
        ? `the request body is larger than ${BODY_LIMIT_BYTES} bytes`
        : error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
          ? 'unsupported content type; send application/json or application/x-www-form-urlencoded'
          : error.message;
    return reply.status(status).send({ error: message });
  });

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.inc('firebreak_http_requests_total', 'HTTP requests by route and status.', {
      route,
      status: String(reply.statusCode),
    });
    metrics.observe(
      'firebreak_http_request_duration_seconds',
      'HTTP request latency.',
      { route },
      reply.elapsedTime / 1000,
    );
  });

  app.get('/healthz', async (_request, reply) => {
    const report = await deps.health();
    return reply.status(report.ok ? 200 : 503).send(report);
  });

  app.get('/metrics', async (_request, reply) =>
    reply.type('text/plain; version=0.0.4; charset=utf-8').send(metrics.render()),
  );

  for (const register of deps.routes ?? []) await register(app, { ...deps, metrics });
  return app;
}

function badRequest(message: string): Error & { statusCode: number } {
  return Object.assign(new Error(message), { statusCode: 400 });
}

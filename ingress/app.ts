/**
 * The HTTP app, built by a factory so tests can `inject` requests or listen on port 0. Handlers
 * verify, validate, call Temporal and answer fast; 5xx bodies never show internals.
 *
 * Routes: GET /healthz, GET /metrics, and what the route modules add (Slack commands and
 * interactions, alert webhooks). Request bodies are kept raw (`request.rawBody`) because Slack
 * and Grafana signatures are computed over the exact bytes.
 */
import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Tracer } from '@opentelemetry/api';
import type { Client } from '@temporalio/client';
import type { Env } from '../config/env';
import type { FileConfig } from '../config/file';
import type { IncidentPolicy } from '../common/incident';
import { createLogger, type Logger } from '../config/logger';
import { IngressMetrics } from './metrics';
import { traceRequests } from './tracing';

declare module 'fastify' {
  interface FastifyRequest {
    /** The exact request body as received, for signature checks. */
    rawBody?: string;
  }
}

export interface HealthReport {
  ok: boolean;
  temporal: {
    ok: boolean;
    address: string;
    namespace: string;
    error?: string;
    /** The embedded dev server's supervision (`firebreak start` without TEMPORAL_ADDRESS). */
    state?: string;
    restarts?: number;
    lastExit?: string;
  };
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
  metrics?: IngressMetrics;
  /** Set when traces are exported (config/telemetry.ts): each request is a span, the root of what it starts. */
  tracer?: Tracer;
  /**
   * The process's logger (config/logger.ts); a new one at FIREBREAK_LOG_LEVEL by default. A 5xx is
   * logged with its request id; every request is logged only at level debug.
   */
  logger?: Logger;
  /** Route modules to register (Slack, webhooks); each gets the same deps. */
  routes?: ((app: FastifyInstance, deps: AppDeps & { metrics: IngressMetrics }) => void | Promise<void>)[];
}

/**
 * Slack's requests are small; anything beyond this is refused with 413. Alert webhooks set their
 * own, larger limit per route (FIREBREAK_WEBHOOK_BODY_LIMIT): Alertmanager groups pass 1 MiB.
 */
export const BODY_LIMIT_BYTES = 1024 * 1024;

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const metrics = deps.metrics ?? new IngressMetrics();
  const logger = deps.logger ?? createLogger({ level: deps.env.FIREBREAK_LOG_LEVEL });
  // Fastify's own view of a pino logger; keeps the instance type the route modules are written for.
  const loggerInstance: FastifyBaseLogger = logger;
  const app = Fastify({
    loggerInstance,
    logController: new LogController({ disableRequestLogging: !logger.isLevelEnabled('debug') }),
    bodyLimit: BODY_LIMIT_BYTES,
    // Slack retries slow answers; we answer fast, and never keep sockets forever.
    connectionTimeout: 10_000,
    requestTimeout: 15_000,
    // Unique across restarts and processes, so the id in a 5xx body finds its log line.
    genReqId: () => randomUUID(),
  });
  app.addHook('onSend', async (request, reply, payload) => {
    reply.header('x-request-id', request.id);
    return payload;
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
    // A sender that hung up mid-body is not a failure of ours, and nobody is left to answer.
    if (error.code === 'ECONNRESET' && error.message === 'aborted') {
      return reply.status(400).send({ error: 'the request was aborted by the sender' });
    }
    // Only Fastify's own errors and ours carry a status meant for the caller; a client library's
    // error with a statusCode (an upstream 404...) is an internal failure, not the caller's fault.
    const addressed = error.code === BAD_REQUEST || error.code?.startsWith('FST_') === true;
    const status =
      addressed && error.statusCode && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500;
    if (status >= 500) {
      request.log.error({ err: error, method: request.method, url: request.url }, 'request failed');
      return reply.status(status).send({ error: 'internal error', requestId: request.id });
    }
    const message =
      error.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
        ? `the request body is larger than ${request.routeOptions.bodyLimit ?? BODY_LIMIT_BYTES} bytes`
        : error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
          ? 'unsupported content type; send application/json or application/x-www-form-urlencoded'
          : error.message;
    return reply.status(status).send({ error: message });
  });

  if (deps.tracer) traceRequests(app, deps.tracer);

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.httpRequests.inc({ route, status: String(reply.statusCode) });
    metrics.httpRequestDuration.observe({ route }, reply.elapsedTime / 1000);
  });

  app.get('/healthz', async (_request, reply) => {
    const report = await deps.health();
    return reply.status(report.ok ? 200 : 503).send(report);
  });

  app.get('/metrics', async (_request, reply) => reply.type(metrics.contentType).send(await metrics.render()));

  for (const register of deps.routes ?? []) await register(app, { ...deps, metrics });
  return app;
}

const BAD_REQUEST = 'FIREBREAK_BAD_REQUEST';

function badRequest(message: string): Error & { statusCode: number; code: string } {
  return Object.assign(new Error(message), { statusCode: 400, code: BAD_REQUEST });
}

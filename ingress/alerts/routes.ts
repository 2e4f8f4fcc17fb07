/**
 * `POST /webhooks/alertmanager` and `POST /webhooks/grafana`: authenticate → parse → route the
 * group to a runbook → signal-with-start on the group's workflow id, so the first notification
 * opens the incident and every later one (repeats, new alerts, resolutions) reaches it as
 * `alertSignal`. The answer is 2xx only once Temporal holds the notification: an accepted alert
 * is never lost.
 *
 * Status codes follow what the senders do with them. Alertmanager re-sends a 4xx forever every
 * group_interval, so only a request that can never succeed gets one (malformed → 400, bad
 * credentials → 401, too large → 413); alerts that route nowhere or cannot fill their runbook are
 * answered 200 with the reason (and logged, and counted). 503 means Temporal is out of reach and
 * asks the sender to retry.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApplicationFailure } from '@temporalio/common';
import { isGrpcDeadlineError, isGrpcServiceError, WorkflowNotFoundError } from '@temporalio/client';
import { deliverAlert, incidentHandle } from '../../client/incidents';
import { ErrorType } from '../../common/errors';
import { alertWorkflowId } from '../../common/ids';
import { lineLog } from '../../config/logger';
import { prepareIncident } from '../../runbooks';
import { alertSignal, type AlertNotification } from '../../domain/messages';
import type { AppDeps } from '../app';
import type { IngressMetrics } from '../metrics';
import { authenticate, webhookAuthConfig, webhooksUnauthenticated } from './auth';
import { routeAlertGroup } from './routing';
import { earliestStart, parsePayload, toNotification, type AlertSource } from './schemas';

type Deps = AppDeps & { metrics: IngressMetrics };

/**
 * Temporal answers a signal-with-start in milliseconds; past this it is not reachable in any useful
 * sense. The gRPC deadline alone can overshoot by seconds (connection set-up, retry back-off), so a
 * hard cap backs it: the answer must leave before the ingress's 10 s connection timeout cuts the
 * socket. A call still in flight at the cap may land after the 503; the sender's retry then
 * repeats a notification, which the incident folds in by fingerprint.
 */
const TEMPORAL_DEADLINE_MS = 5_000;
const TEMPORAL_HARD_CAP_MS = 7_000;

export type Outcome = 'accepted' | 'signalled' | 'ignored' | 'unroutable';

export interface AlertRoutesOptions {
  /** Where "ignored because..." lines go; the app's logger by default, a collector in tests. */
  log?: (line: string) => void;
  now?: () => Date;
}

/** The route module for ingress/routes.ts, with options for tests. */
export function alertRoutes(options: AlertRoutesOptions = {}) {
  const now = options.now ?? (() => new Date());
  return async function registerAlertWebhooks(app: FastifyInstance, deps: Deps): Promise<void> {
    const log = options.log ?? lineLog(app.log, 'alerts', 'warn');
    const auth = webhookAuthConfig(deps.env);
    if (webhooksUnauthenticated(auth)) {
      log(
        'alert webhooks: no FIREBREAK_WEBHOOK_TOKEN or FIREBREAK_WEBHOOK_BASIC_AUTH set; anyone who can reach ' +
          'the ingress can start incidents',
      );
    }
    // Own scope and body parser: credentials are checked before the body is judged, so an
    // unauthenticated caller learns nothing about what a valid payload looks like.
    await app.register(async (scope) => {
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('*', { parseAs: 'string' }, (request, body, done) => {
        request.rawBody = body.toString();
        done(null, request.rawBody);
      });
      for (const source of ['alertmanager', 'grafana'] as const) {
        scope.post(`/webhooks/${source}`, (request, reply) => handle(source, request, reply));
      }
      // Grafana's contact point lets the user pick PUT instead of POST.
      scope.put('/webhooks/grafana', (request, reply) => handle('grafana', request, reply));
    });

    async function handle(source: AlertSource, request: FastifyRequest, reply: FastifyReply) {
      const count = (outcome: string, by = 1) => deps.metrics.alertNotifications.inc({ outcome, source }, by);
      const rawBody = request.rawBody ?? '';
      const authResult = authenticate(source, auth, request.headers, rawBody);
      if (!authResult.ok) {
        count('unauthorized');
        return reply.status(401).send({ error: `unauthorized: ${authResult.reason}` });
      }
      const body = parseJson(rawBody);
      if (!body.ok) {
        count('invalid');
        return reply.status(400).send({ error: body.message });
      }
      const parsed = parsePayload(source, body.value);
      if (!parsed.ok) {
        count('invalid');
        return reply.status(400).send({ error: parsed.message });
      }
      const notification = toNotification(source, parsed.payload, now());
      const workflowId = alertWorkflowId(source, notification.receiver, notification.groupKey);
      const group = `${source} group ${JSON.stringify(notification.groupKey)} (receiver ${notification.receiver})`;

      try {
        const answer = await deliver(notification, workflowId, group);
        count(answer.outcome);
        if (answer.outcome !== 'ignored' && answer.outcome !== 'unroutable') {
          for (const status of ['firing', 'resolved'] as const) {
            const n = notification.alerts.filter((a) => a.status === status).length;
            if (n > 0) deps.metrics.alertsReceived.inc({ source, status }, n);
          }
        }
        return reply.status(200).send({ workflowId, ...answer });
      } catch (err) {
        if (isTemporalUnavailable(err)) {
          count('unavailable');
          log(`${group}: Temporal is unreachable (${(err as Error).message}); answered 503 so the sender retries`);
          return reply
            .status(503)
            .header('retry-after', '10')
            .send({ error: 'Temporal is unreachable; the notification was not recorded, retry later' });
        }
        count('error');
        throw err;
      }
    }

    async function deliver(
      notification: AlertNotification,
      workflowId: string,
      group: string,
    ): Promise<{ outcome: Outcome; reason?: string; runbook?: string; via?: string }> {
      // Resolutions only ever update an open incident: they must not start one.
      if (!notification.alerts.some((alert) => alert.status === 'firing')) {
        if (await signalIfRunning(notification, workflowId)) return { outcome: 'signalled' };
        const reason = 'no open incident for this group, and resolved alerts never start one';
        log(`${group}: ignored: ${reason}`);
        return { outcome: 'ignored', reason };
      }

      const routed = routeAlertGroup(deps.config.routes, notification.alerts);
      let reason: string;
      if (routed.kind === 'routed') {
        const { decision } = routed;
        try {
          const slackChannel = deps.env.FIREBREAK_SLACK_CHANNEL ?? deps.config.slack.channel;
          const prepared = prepareIncident({
            runbook: decision.runbook,
            targets: decision.targets,
            ...(decision.severity ? { severity: decision.severity } : {}),
            params: decision.params,
            trigger: {
              kind: 'alert',
              source: notification.source,
              receiver: notification.receiver,
              groupKey: notification.groupKey,
            },
            policy: deps.policy,
            ...(slackChannel ? { slackChannel } : {}),
            ...withDetectedAt(earliestStart(notification.alerts)),
          });
          await withTemporalDeadline(() =>
            deliverAlert(deps.client, prepared, notification, deps.env.FIREBREAK_TASK_QUEUE),
          );
          return { outcome: 'accepted', runbook: decision.runbook, via: decision.via };
        } catch (err) {
          if (!(err instanceof ApplicationFailure && err.type === ErrorType.INVALID_INPUT)) throw err;
          reason = `${decision.via} → ${decision.runbook}: ${err.message}`;
        }
      } else {
        reason = routed.kind === 'unusable' ? `${routed.via}: ${routed.reason}` : routed.reason;
      }
      // The group may already have an incident (an earlier notification routed); it still hears of this one.
      if (await signalIfRunning(notification, workflowId)) return { outcome: 'signalled', reason };
      const outcome: Outcome = routed.kind === 'unmatched' ? 'ignored' : 'unroutable';
      log(`${group}: ${outcome === 'ignored' ? 'ignored' : 'not started'}: ${reason}`);
      return { outcome, reason };
    }

    async function signalIfRunning(notification: AlertNotification, workflowId: string): Promise<boolean> {
      try {
        await withTemporalDeadline(() => incidentHandle(deps.client, workflowId).signal(alertSignal, notification));
        return true;
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return false;
        throw err;
      }
    }

    function withTemporalDeadline<T>(fn: () => Promise<T>): Promise<T> {
      const call = deps.client.withDeadline(Date.now() + TEMPORAL_DEADLINE_MS, fn);
      call.catch(() => undefined);
      const answered = new AbortController();
      const cap = sleep(TEMPORAL_HARD_CAP_MS, undefined, { signal: answered.signal }).then(() => {
        throw new TemporalTimeoutError(TEMPORAL_HARD_CAP_MS);
      });
      return Promise.race([call, cap]).finally(() => answered.abort());
    }
  };
}

/** The module ingress/routes.ts lists. */
export const registerAlertRoutes = alertRoutes();

function withDetectedAt(detectedAt: string | undefined): { detectedAt?: string } {
  return detectedAt ? { detectedAt } : {};
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false; message: string } {
  if (text.trim() === '') return { ok: false, message: 'the request body is empty; expected a JSON object' };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    return { ok: false, message: `the request body is not valid JSON: ${(err as Error).message}` };
  }
}

class TemporalTimeoutError extends Error {
  constructor(ms: number) {
    super(`no answer from Temporal within ${ms} ms`);
    this.name = 'TemporalTimeoutError';
  }
}

/** gRPC UNAVAILABLE or a missed deadline, anywhere in the cause chain: the sender should retry. */
export function isTemporalUnavailable(err: unknown): boolean {
  if (err instanceof TemporalTimeoutError || isGrpcDeadlineError(err)) return true;
  for (let cause: unknown = err, depth = 0; cause && depth < 5; depth++) {
    if (isGrpcServiceError(cause) && (cause.code === 14 || cause.code === 4)) return true;
    cause = (cause as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * `POST /webhooks/alertmanager` and `POST /webhooks/grafana`: authenticate (on the headers, before
 * the body is read) → parse liberally → derive what the sender left out → route the group to a
 * runbook (pods followed to their Deployments) → signal-with-start on the group's workflow id, so
 * the first notification opens the incident and every later one reaches it as `alertSignal`. The
 * answer is 2xx only once Temporal holds every signal of the notification: an accepted alert is
 * never lost.
 *
 * Status codes follow what the senders do with them. Alertmanager re-sends a 4xx forever every
 * group_interval, so only a request that can never succeed gets one (not JSON or no alert list →
 * 400, bad credentials → 401, over FIREBREAK_WEBHOOK_BODY_LIMIT → 413); alerts that route nowhere
 * or cannot fill their runbook are answered 200 with the reason (and logged, and counted). 503
 * means Temporal, or the Kubernetes API a pod must be looked up in, is out of reach: retry.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApplicationFailure } from '@temporalio/common';
import { ErrorType } from '../../common/errors';
import { alertWorkflowId } from '../../common/ids';
import { lineLog } from '../../config/logger';
import { prepareIncident } from '../../runbooks';
import { mayStart } from '../../domain/access';
import type { AppDeps } from '../app';
import type { IngressMetrics } from '../metrics';
import { clusterAccess } from '../kubernetes/access';
import { createOwnerResolver, type OwnerResolver } from '../kubernetes/owners';
import { checkCredentials, checkGrafanaSignature, precheckGrafanaSignature, signedByBody } from './auth';
import { webhookAuthConfig, webhooksUnauthenticated } from './auth';
import { DEFAULT_ROUTES } from './default-routes';
import { previousRunNote } from './continuity';
import { KnownOpenGroups, SignalCoalescer } from './coalesce';
import { isTemporalUnavailable, SignalDelivery } from './delivery';
import { earliestStart, toNotification, type ReceivedNotification } from './normalise';
import { parsePayload, type AlertSource } from './schemas';
import { notificationSignals } from './signals';
import { routeAlertGroup, type RouteDecision, type RoutingTables } from './targets';

type Deps = AppDeps & { metrics: IngressMetrics };

/** Signed Grafana bodies are buffered before their signature can be checked: at most this many at once. */
export const MAX_UNVERIFIED_BODIES = 2;

export type Outcome = 'accepted' | 'signalled' | 'ignored' | 'unroutable';

export interface AlertRoutesOptions {
  /** Where "ignored because..." lines go; the app's logger by default, a collector in tests. */
  log?: (line: string) => void;
  now?: () => Date;
  /** Follows pods to Deployments; from KUBECONFIG / in-cluster / ~/.kube/config by default, null for none. */
  owners?: OwnerResolver | null;
}

interface Answer {
  outcome: Outcome;
  reason?: string;
  runbook?: string;
  via?: string;
  notes?: string[];
}

/** The route module for ingress/routes.ts, with options for tests. */
export function alertRoutes(options: AlertRoutesOptions = {}) {
  const now = options.now ?? (() => new Date());
  return async function registerAlertWebhooks(app: FastifyInstance, deps: Deps): Promise<void> {
    const log = options.log ?? lineLog(app.log, 'alerts', 'warn');
    const auth = webhookAuthConfig(deps.env);
    const bodyLimit = deps.env.FIREBREAK_WEBHOOK_BODY_LIMIT;
    if (webhooksUnauthenticated(auth)) {
      log(
        'alert webhooks: no FIREBREAK_WEBHOOK_TOKEN or FIREBREAK_WEBHOOK_BASIC_AUTH set; anyone who can reach ' +
          'the ingress can start incidents',
      );
    }
    const tables = routingTables(deps, options.owners, options.log ?? lineLog(app.log, 'alerts'), log);
    const count = (source: string, outcome: string) => deps.metrics.alertNotifications.inc({ outcome, source });
    const unverifiedBodies = new Set<FastifyRequest>();
    const coalescer = new SignalCoalescer();
    const knownOpen = new KnownOpenGroups();
    /** Starts in flight, by group: a notification of a group being started waits, then joins as a signal. */
    const starting = new Map<string, Promise<unknown>>();

    await app.register(async (scope) => {
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('*', { parseAs: 'string' }, (request, body, done) => {
        request.rawBody = body.toString();
        done(null, request.rawBody);
      });
      // Credentials before the body: Fastify has not read a byte of it when this hook answers 401,
      // and Node discards what the sender still pushes instead of buffering it.
      scope.addHook('onRequest', async (request, reply) => {
        const source = sourceOf(request);
        if (signedByBody(source, auth)) {
          const pre = precheckGrafanaSignature(auth, request.headers);
          if (!pre.ok) return refuse(reply, source, 401, `unauthorized: ${pre.reason}`);
          if (unverifiedBodies.size >= MAX_UNVERIFIED_BODIES) {
            reply.header('retry-after', '5');
            return refuse(reply, source, 503, 'busy checking other signed notifications; retry shortly');
          }
          unverifiedBodies.add(request);
          return;
        }
        const result = checkCredentials(auth, request.headers);
        if (!result.ok) return refuse(reply, source, 401, `unauthorized: ${result.reason}`);
      });
      const release = async (request: FastifyRequest) => void unverifiedBodies.delete(request);
      scope.addHook('onResponse', release);
      scope.addHook('onRequestAbort', release);
      for (const source of ['alertmanager', 'grafana'] as const) {
        scope.post(`/webhooks/${source}`, { bodyLimit }, (request, reply) => handle(source, request, reply));
      }
      // Grafana's contact point lets the user pick PUT instead of POST.
      scope.put('/webhooks/grafana', { bodyLimit }, (request, reply) => handle('grafana', request, reply));
    });

    function refuse(reply: FastifyReply, source: AlertSource, status: 401 | 503, error: string) {
      count(source, status === 401 ? 'unauthorized' : 'busy');
      return reply.status(status).send({ error });
    }

    async function handle(source: AlertSource, request: FastifyRequest, reply: FastifyReply) {
      const rawBody = request.rawBody ?? '';
      if (signedByBody(source, auth)) {
        const signature = checkGrafanaSignature(auth, request.headers, rawBody);
        if (!signature.ok) return refuse(reply, source, 401, `unauthorized: ${signature.reason}`);
      }
      const body = parseJson(rawBody);
      const parsed = body.ok ? parsePayload(source, body.value) : body;
      if (!parsed.ok) {
        count(source, 'invalid');
        return reply.status(400).send({ error: parsed.message });
      }
      const notification = toNotification(source, parsed.payload, now());
      const workflowId = alertWorkflowId(source, notification.receiver, notification.groupKey);
      const derived = notification.derived.length > 0 ? { derived: notification.derived } : {};
      if (notification.alerts.length === 0) {
        count(source, 'ignored');
        return reply.status(200).send({ workflowId, outcome: 'ignored', reason: 'the notification holds no alerts' });
      }
      const group = `${source} group ${JSON.stringify(notification.groupKey)} (receiver ${notification.receiver})`;
      try {
        const answer = await deliver(notification, workflowId, group);
        count(source, answer.outcome);
        if (answer.outcome === 'accepted' || answer.outcome === 'signalled') {
          for (const status of ['firing', 'resolved'] as const) {
            const n = notification.alerts.filter((a) => a.status === status).length;
            if (n > 0) deps.metrics.alertsReceived.inc({ source, status }, n);
          }
        }
        return reply.status(200).send({ workflowId, ...answer, ...derived });
      } catch (err) {
        const unreachable = isTemporalUnavailable(err)
          ? 'Temporal'
          : err instanceof ClusterUnreachable
            ? 'the Kubernetes API'
            : undefined;
        if (!unreachable) {
          count(source, 'error');
          throw err;
        }
        count(source, 'unavailable');
        log(`${group}: ${unreachable} is unreachable (${(err as Error).message}); answered 503 so the sender retries`);
        return reply
          .status(503)
          .header('retry-after', '10')
          .send({ error: `${unreachable} is unreachable; the notification was not recorded, retry later` });
      }
    }

    async function deliver(notification: ReceivedNotification, workflowId: string, group: string): Promise<Answer> {
      const delivery = new SignalDelivery(deps.client, workflowId, notificationSignals(notification));
      const toRunningIncident = async () => {
        const delivered = await delivery.toRunningIncident(coalescer);
        if (delivered) knownOpen.add(workflowId);
        else knownOpen.forget(workflowId);
        return delivered;
      };
      const firing = notification.alerts.some((alert) => alert.status === 'firing');
      await starting.get(workflowId)?.catch(() => undefined);
      // Most notifications repeat a group whose incident is open: they need no routing at all. A
      // firing one for a group not known open goes straight to routing and signal-with-start.
      if ((knownOpen.has(workflowId) || !firing) && (await toRunningIncident())) return { outcome: 'signalled' };
      if (!firing) {
        const reason = 'no open incident for this group, and resolved alerts never start one';
        log(`${group}: ignored: ${reason}`);
        return { outcome: 'ignored', reason };
      }

      const routed = await routeAlertGroup(notification.alerts, tables);
      let reason: string;
      const refused = routed.kind === 'routed' ? routeRefusal(routed.decision) : undefined;
      if (refused) {
        deps.metrics.accessRefusals.inc({ action: 'start', channel: 'alert' });
        reason = refused;
      } else if (routed.kind === 'routed') {
        const { decision } = routed;
        const notes = decision.notes.length > 0 ? { notes: decision.notes } : {};
        try {
          const slackChannel = deps.env.FIREBREAK_SLACK_CHANNEL ?? deps.config.slack.channel;
          const detectedAt = earliestStart(notification.alerts);
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
            ...(detectedAt ? { detectedAt } : {}),
          });
          const start = delivery.startingIncident(prepared, deps.env.FIREBREAK_TASK_QUEUE);
          starting.set(workflowId, start);
          const previous = await start.finally(() => {
            if (starting.get(workflowId) === start) starting.delete(workflowId);
          });
          knownOpen.add(workflowId);
          if (!previous) return { outcome: 'accepted', runbook: decision.runbook, via: decision.via, ...notes };
          const takenUp = previousRunNote(previous);
          log(`${group}: ${takenUp}`);
          return {
            outcome: 'accepted',
            runbook: decision.runbook,
            via: decision.via,
            notes: [...decision.notes, takenUp],
          };
        } catch (err) {
          if (!(err instanceof ApplicationFailure && err.type === ErrorType.INVALID_INPUT)) throw err;
          reason = `${decision.via} → ${decision.runbook}: ${err.message}`;
        }
      } else {
        reason = routed.kind === 'unusable' ? `${routed.via}: ${routed.reason}` : routed.reason;
      }
      // A concurrent request may have opened the group's incident meanwhile: it still hears of this one.
      if (await toRunningIncident()) return { outcome: 'signalled', reason };
      if (routed.kind === 'unusable' && routed.transient) throw new ClusterUnreachable(reason);
      const outcome: Outcome = routed.kind === 'unmatched' ? 'ignored' : 'unroutable';
      log(`${group}: ${outcome === 'ignored' ? 'ignored' : 'not started'}: ${reason}`);
      return { outcome, reason };
    }

    /**
     * An alert route is a subject too: it starts only the runbooks and namespaces it is allowed.
     * `route:<rule name>`, `route:default` (the built-in table), `route:catalog` (the runbooks' hints).
     */
    function routeRefusal(decision: RouteDecision): string | undefined {
      const route = decision.via.startsWith('rule ')
        ? decision.via.slice('rule '.length)
        : decision.via.startsWith('default')
          ? 'default'
          : 'catalog';
      const namespaces = [...new Set(decision.targets.map((target) => target.namespace))];
      const actor = { id: `route:${route}` };
      if (mayStart(deps.policy.access, actor, { runbook: decision.runbook, namespaces })) return undefined;
      return `route ${route} may not start ${decision.runbook} in ${namespaces.join(', ')} (permissions.start)`;
    }
  };
}

/** The module ingress/routes.ts lists. */
export const registerAlertRoutes = alertRoutes();

class ClusterUnreachable extends Error {}

function sourceOf(request: FastifyRequest): AlertSource {
  return request.routeOptions.url === '/webhooks/grafana' ? 'grafana' : 'alertmanager';
}

/** Config rules, the default table unless turned off, and the cluster pods are followed in. */
function routingTables(
  deps: Deps,
  owners: OwnerResolver | null | undefined,
  info: (line: string) => void,
  warn: (line: string) => void,
) {
  const tables: RoutingTables = {
    rules: deps.config.routes,
    defaults: deps.config.defaultRoutes ? DEFAULT_ROUTES : [],
    owners: owners ?? null,
  };
  if (owners === undefined) {
    const access = clusterAccess(deps.env);
    if (access.ok) {
      tables.owners = createOwnerResolver(access.kubeConfig);
      info(
        `alert routing: pods are followed to their Deployments through ${access.source}` +
          (access.ownIdentity
            ? ''
            : " — the worker's identity; under `firebreak rbac` it reads only the worker's namespaces: give the ingress its own with FIREBREAK_INGRESS_KUBECONFIG"),
      );
    } else {
      tables.ownersOff = `no Kubernetes cluster is configured (${access.reason})`;
      warn(`alert routing: pods are not followed to their Deployments: ${tables.ownersOff}`);
    }
  } else if (owners === null) {
    tables.ownersOff = 'owner resolution is turned off';
  }
  return tables;
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false; message: string } {
  if (text.trim() === '') return { ok: false, message: 'the request body is empty; expected a JSON object' };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    return { ok: false, message: `the request body is not valid JSON: ${(err as Error).message}` };
  }
}

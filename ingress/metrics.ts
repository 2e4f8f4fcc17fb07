/**
 * What `GET /metrics` serves: the ingress's counters and latency histogram, plus prom-client's
 * process and Node runtime metrics (CPU, memory, handles, GC, event-loop lag). Each app instance
 * owns its own prom-client `Registry`, never the global one, so several apps in one process (the
 * tests) do not collide. Label objects are written in alphabetical order at the call sites:
 * prom-client prints them as given, and the exposition then reads as it always has.
 */
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

const LATENCY_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export class IngressMetrics {
  readonly registry = new Registry();

  readonly httpRequests = this.counter('firebreak_http_requests_total', 'HTTP requests by route and status.', [
    'route',
    'status',
  ]);

  readonly httpRequestDuration = new Histogram({
    name: 'firebreak_http_request_duration_seconds',
    help: 'HTTP request latency.',
    labelNames: ['route'] as const,
    buckets: LATENCY_BUCKETS_SECONDS,
    registers: [this.registry],
  });

  readonly slackRequests = this.counter('firebreak_slack_requests_total', 'Slack requests by route and outcome.', [
    'outcome',
    'route',
  ]);

  readonly slackActions = this.counter('firebreak_slack_actions_total', 'Slack button clicks by action and outcome.', [
    'action',
    'outcome',
  ]);

  readonly alertNotifications = this.counter(
    'firebreak_alert_notifications_total',
    'Alert webhook notifications by source and outcome.',
    ['outcome', 'source'],
  );

  readonly alertsReceived = this.counter(
    'firebreak_alerts_received_total',
    'Alerts carried by accepted webhook notifications, by source and alert status.',
    ['source', 'status'],
  );

  readonly accessRefusals = this.counter(
    'firebreak_access_refusals_total',
    'Actions refused by the permissions (start, approve, acknowledge, resolve, cancel), by channel (slack, alert, cli; ' +
      "the CLI's counted by the worker when they reach an incident or the refusal log).",
    ['action', 'channel'],
  );

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** The Prometheus text exposition of everything above. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private counter<L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }
}

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

  readonly httpRequests = new Counter({
    name: 'firebreak_http_requests_total',
    help: 'HTTP requests by route and status.',
    labelNames: ['route', 'status'] as const,
    registers: [this.registry],
  });

  readonly httpRequestDuration = new Histogram({
    name: 'firebreak_http_request_duration_seconds',
    help: 'HTTP request latency.',
    labelNames: ['route'] as const,
    buckets: LATENCY_BUCKETS_SECONDS,
    registers: [this.registry],
  });

  readonly slackRequests = new Counter({
    name: 'firebreak_slack_requests_total',
    help: 'Slack requests by route and outcome.',
    labelNames: ['route', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly slackActions = new Counter({
    name: 'firebreak_slack_actions_total',
    help: 'Slack button clicks by action and outcome.',
    labelNames: ['action', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly alertNotifications = new Counter({
    name: 'firebreak_alert_notifications_total',
    help: 'Alert webhook notifications by source and outcome.',
    labelNames: ['source', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly alertsReceived = new Counter({
    name: 'firebreak_alerts_received_total',
    help: 'Alerts carried by accepted webhook notifications, by source and alert status.',
    labelNames: ['source', 'status'] as const,
    registers: [this.registry],
  });

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
}

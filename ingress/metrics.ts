/**
 * What `GET /metrics` serves: the ingress's counters and latency histogram, plus prom-client's
 * process and Node runtime metrics (CPU, memory, handles, GC, event-loop lag). Each app instance
 * owns its own prom-client `Registry`, never the global one, so several apps in one process (the
 * tests) do not collide. Label objects are written in alphabetical order at the call sites:
 * prom-client prints them as given, and the exposition then reads as it always has.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { RUNBOOK_IDS, SEVERITIES } from '../common/types';
import { runbookKey, severityKey } from '../common/search-attributes';

const LATENCY_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
/** From a minute to a day: acknowledgements take minutes, closes hours. */
const INCIDENT_BUCKETS_SECONDS = [60, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400];
const OPEN_INCIDENTS_TTL_MS = 15_000;
const OPEN_INCIDENTS_TIMEOUT_MS = 5_000;

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

  // ---- the incidents (the worker's `incidents` sink and Temporal visibility; docs/observability.md) ----

  readonly incidentsOpen: Gauge<'runbook' | 'severity'>;

  readonly mitigationsPendingRestore: Gauge<'runbook'>;

  readonly gateWait = new Histogram({
    name: 'firebreak_gate_wait_seconds',
    help: 'How long a gate waited from being asked to its decision (approved, rejected or withdrawn, timed out), by runbook.',
    labelNames: ['decision', 'runbook'] as const,
    buckets: [5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200],
    registers: [this.registry],
  });

  readonly escalations = this.counter(
    'firebreak_escalations_total',
    'Escalation tiers paged, by channel (slack, pagerduty, email), runbook and severity.',
    ['channel', 'runbook', 'severity'],
  );

  readonly timeToAcknowledge = new Histogram({
    name: 'firebreak_incident_acknowledge_seconds',
    help: 'Time from an incident opening to its first acknowledgement (MTTA = sum / count), by runbook and severity.',
    labelNames: ['runbook', 'severity'] as const,
    buckets: INCIDENT_BUCKETS_SECONDS,
    registers: [this.registry],
  });

  readonly timeToClose = new Histogram({
    name: 'firebreak_incident_close_seconds',
    help:
      'Time from an incident opening to its close, by runbook, severity and how it closed (resolved, failed, ' +
      'cancelled); MTTR = sum / count of status="resolved".',
    labelNames: ['runbook', 'severity', 'status'] as const,
    buckets: INCIDENT_BUCKETS_SECONDS,
    registers: [this.registry],
  });

  /** The latest pending-restore count each open incident reported (only those above zero). */
  private readonly pendingRestores = new Map<string, { runbook: string; count: number }>();

  private openIncidents?: OpenIncidentCounter;

  /**
   * `defaultMetrics: false` leaves out the process and runtime metrics: the ingress thread's copy,
   * whose updates go to the main thread's registry (ingress/thread-main.ts), needs none.
   */
  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
    const openCounts = () => this.openIncidents?.counts();
    const pendingRestores = this.pendingRestores;
    this.incidentsOpen = new Gauge({
      name: 'firebreak_incidents_open',
      help:
        'Running incidents by runbook and severity, counted in Temporal visibility (at most every ' +
        `${OPEN_INCIDENTS_TTL_MS / 1000} s; the last figures when a count fails).`,
      labelNames: ['runbook', 'severity'] as const,
      registers: [this.registry],
      async collect() {
        const counts = await openCounts();
        if (!counts) return;
        for (const { runbook, severity, count } of counts) this.set({ runbook, severity }, count);
      },
    });
    this.mitigationsPendingRestore = new Gauge({
      name: 'firebreak_mitigations_pending_restore',
      help:
        'Temporary mitigations (raised limits, scaled replicas, changed settings) that open incidents hold and have ' +
        'not restored yet, by runbook.',
      labelNames: ['runbook'] as const,
      registers: [this.registry],
      collect() {
        const sums = new Map<string, number>(RUNBOOK_IDS.map((runbook) => [runbook, 0]));
        for (const { runbook, count } of pendingRestores.values()) {
          sums.set(runbook, (sums.get(runbook) ?? 0) + count);
        }
        for (const [runbook, count] of sums) this.set({ runbook }, count);
      },
    });
  }

  /** An incident's latest pending-restore count (the worker's sink); zero forgets it. */
  setPendingRestore(workflowId: string, runbook: string, count: number): void {
    if (count > 0) this.pendingRestores.set(workflowId, { runbook, count });
    else this.pendingRestores.delete(workflowId);
  }

  /**
   * Counts the running incidents of one task queue in visibility when /metrics is scraped: one
   * count per runbook and severity (a fixed set), cached for a while so a scrape every few seconds
   * costs the cluster a few cheap calls a minute, whatever the number of incidents.
   */
  countOpenIncidents(
    count: (query: string) => Promise<number>,
    taskQueue: string,
    ttlMs: number = OPEN_INCIDENTS_TTL_MS,
  ): void {
    this.openIncidents = new OpenIncidentCounter(count, taskQueue, ttlMs);
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

class OpenIncidentCounter {
  private last?: { at: number; counts: { runbook: string; severity: string; count: number }[] };
  private inFlight?: Promise<void>;

  constructor(
    private readonly count: (query: string) => Promise<number>,
    private readonly taskQueue: string,
    private readonly ttlMs: number,
  ) {}

  /** The figures at most `ttlMs` old; the previous ones while a refresh fails or hangs. */
  async counts() {
    if (!this.last || Date.now() - this.last.at >= this.ttlMs) {
      this.inFlight ??= this.refresh().finally(() => (this.inFlight = undefined));
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, OPEN_INCIDENTS_TIMEOUT_MS)));
      await Promise.race([this.inFlight.catch(() => undefined), timeout]);
      clearTimeout(timer);
    }
    return this.last?.counts;
  }

  private async refresh(): Promise<void> {
    const queue = this.taskQueue.replace(/'/g, "\\'");
    const pairs = RUNBOOK_IDS.flatMap((runbook) => SEVERITIES.map((severity) => ({ runbook, severity })));
    const counts = await Promise.all(
      pairs.map(async ({ runbook, severity }) => ({
        runbook,
        severity,
        count: await this.count(
          `TaskQueue = '${queue}' AND ExecutionStatus = 'Running' AND ${runbookKey.name} = '${runbook}' ` +
            `AND ${severityKey.name} = '${severity}'`,
        ),
      })),
    );
    this.last = { at: Date.now(), counts };
  }
}

/**
 * Paging activities: PagerDuty Events API v2 as an escalation tier. The incident id is the
 * `dedup_key`, so every re-page of one incident lands on the same PagerDuty alert and acknowledge /
 * resolve find it again.
 *
 * Retryability follows the API's contract: 202 accepted; 400 is a malformed event (retrying the
 * same event cannot help); 429 means slow down (retried, after Retry-After when one is given); 5xx
 * and network errors are transient.
 */
import { ApplicationFailure } from '@temporalio/common';
import { ErrorType } from '../common/errors';
import type { Severity } from '../common/types';

export const PAGERDUTY_EVENTS_URL = 'https://events.pagerduty.com/v2/enqueue';

export interface PagingDeps {
  /** Integration (routing) key of the PagerDuty service to page (PAGERDUTY_ROUTING_KEY). */
  routingKey?: string;
  /** Events API endpoint (PAGERDUTY_EVENTS_URL); the SaaS by default. */
  eventsUrl?: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

export type PagerDutySeverity = 'critical' | 'error' | 'warning' | 'info';

export const PAGERDUTY_SEVERITY: Record<Severity, PagerDutySeverity> = {
  P0: 'critical',
  P1: 'error',
  P2: 'warning',
  P3: 'info',
};

export interface TriggerPageInput {
  incidentId: string;
  summary: string;
  severity: Severity;
  /** Where the problem is: the affected target, e.g. `shop/checkout`. */
  source: string;
  details?: Record<string, unknown>;
  component?: string;
  group?: string;
  /** Links shown on the PagerDuty incident (the Slack card, a dashboard). */
  links?: Array<{ href: string; text?: string }>;
}

export interface PageResult {
  dedupKey: string;
  action: 'trigger' | 'acknowledge' | 'resolve';
  status: string;
  message: string;
}

// PagerDuty's own limits: longer values are rejected or truncated server-side.
const SUMMARY_MAX = 1024;
const DEDUP_KEY_MAX = 255;
const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_RETRY_AFTER_SECONDS = 3600;

export function createPagingActivities(deps: PagingDeps) {
  const doFetch = deps.fetch ?? fetch;
  const eventsUrl = deps.eventsUrl ?? PAGERDUTY_EVENTS_URL;
  const timeoutMs = deps.timeoutMs ?? DEFAULT_TIMEOUT_MS;

  async function send(
    action: PageResult['action'],
    incidentId: string,
    extra: Record<string, unknown>,
  ): Promise<PageResult> {
    if (!deps.routingKey) {
      throw ApplicationFailure.nonRetryable(
        'PAGERDUTY_ROUTING_KEY is not configured: the PagerDuty escalation tier cannot page',
        ErrorType.NOT_CONFIGURED,
      );
    }
    if (!incidentId || incidentId.length > DEDUP_KEY_MAX) {
      throw ApplicationFailure.nonRetryable(
        `incident id must be 1..${DEDUP_KEY_MAX} characters to serve as dedup_key`,
        ErrorType.INVALID_INPUT,
      );
    }
    const event = { routing_key: deps.routingKey, event_action: action, dedup_key: incidentId, ...extra };
    let res: Response;
    let text: string;
    try {
      res = await doFetch(eventsUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(event),
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await res.text();
    } catch (err) {
      throw new Error(`PagerDuty ${action} for ${incidentId} did not get through: ${describe(err)}`, {
        cause: err,
      });
    }
    const body = parseJson(text);
    const message = typeof body?.message === 'string' ? body.message : text.slice(0, 200);
    if (res.status === 202 || res.status === 200) {
      const dedupKey = typeof body?.dedup_key === 'string' ? body.dedup_key : incidentId;
      return { dedupKey, action, status: typeof body?.status === 'string' ? body.status : 'success', message };
    }
    const errors = Array.isArray(body?.errors) ? `: ${body.errors.join('; ')}` : '';
    if (res.status === 429) {
      const delaySeconds = retryAfterSeconds(res.headers.get('retry-after'));
      throw ApplicationFailure.create({
        message:
          `PagerDuty rate-limited the ${action} for ${incidentId}` +
          (delaySeconds ? `; retry after ${delaySeconds}s` : ''),
        type: ErrorType.RATE_LIMITED,
        nonRetryable: false,
        ...(delaySeconds !== undefined && { nextRetryDelay: delaySeconds * 1000 }),
      });
    }
    if (res.status >= 500) {
      throw new Error(`PagerDuty answered ${res.status} to the ${action} for ${incidentId}: ${message}`);
    }
    // 400 (invalid event), 401/403/404 (wrong key or endpoint), 413 (too large): the same event fails again.
    throw ApplicationFailure.nonRetryable(
      `PagerDuty rejected the ${action} for ${incidentId} (${res.status} ${message}${errors})`,
      ErrorType.PROVIDER_REJECTED,
    );
  }

  return {
    /**
     * Opens (or re-pages) the PagerDuty alert for an incident: a `trigger` event with the incident id
     * as dedup_key and the severity mapped P0..P3 → critical/error/warning/info. Idempotency key: the
     * incident id — a retried or repeated trigger updates the same alert instead of opening another.
     * Timeout profile REMOTE_CALL (10 s per request; 429 honours Retry-After through nextRetryDelay).
     */
    async triggerPage(input: TriggerPageInput): Promise<PageResult> {
      const summary =
        input.summary.length > SUMMARY_MAX ? `${input.summary.slice(0, SUMMARY_MAX - 1)}…` : input.summary;
      return send('trigger', input.incidentId, {
        payload: {
          summary,
          source: input.source,
          severity: PAGERDUTY_SEVERITY[input.severity],
          timestamp: new Date().toISOString(),
          ...(input.component && { component: input.component }),
          ...(input.group && { group: input.group }),
          class: 'firebreak-incident',
          custom_details: { incident_id: input.incidentId, firebreak_severity: input.severity, ...input.details },
        },
        client: 'Firebreak',
        ...(input.links?.length && { links: input.links }),
      });
    },

    /**
     * Acknowledges the incident's PagerDuty alert (someone took it in Slack or the CLI), which stops
     * PagerDuty's own escalation. Idempotency key: the incident id as dedup_key; acknowledging twice
     * is harmless. Timeout profile REMOTE_CALL.
     */
    async acknowledgePage(input: { incidentId: string }): Promise<PageResult> {
      return send('acknowledge', input.incidentId, {});
    },

    /**
     * Resolves the incident's PagerDuty alert when the incident resolves. Idempotency key: the
     * incident id as dedup_key; resolving twice is harmless. Timeout profile REMOTE_CALL.
     */
    async resolvePage(input: { incidentId: string }): Promise<PageResult> {
      return send('resolve', input.incidentId, {});
    },
  };
}

export type PagingActivities = ReturnType<typeof createPagingActivities>;

/** Retry-After is delta-seconds or an HTTP date; anything else is ignored. */
function retryAfterSeconds(header: string | null): number | undefined {
  if (!header) return undefined;
  const seconds = /^\d+$/.test(header.trim()) ? Number(header.trim()) : (Date.parse(header) - Date.now()) / 1000;
  if (!Number.isFinite(seconds)) return undefined;
  return Math.min(Math.max(Math.ceil(seconds), 1), MAX_RETRY_AFTER_SECONDS);
}

function parseJson(
  text: string,
): { status?: unknown; message?: unknown; dedup_key?: unknown; errors?: unknown[] } | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null ? value : undefined;
  } catch {
    return undefined;
  }
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    if (err.name === 'TimeoutError' || err.name === 'AbortError') return 'timed out';
    const code = (err as Error & { cause?: { code?: string } }).cause?.code;
    return code ?? err.message;
  }
  return String(err);
}

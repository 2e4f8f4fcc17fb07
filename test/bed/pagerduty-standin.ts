/**
 * A loopback PagerDuty Events API v2 that validates events as the real one does and records them:
 *
 *   POST /v2/enqueue  JSON event
 *     202 {status: 'success', message: 'Event processed', dedup_key}
 *     400 {status: 'invalid event', message: 'Event object is invalid', errors: [...]}
 *     400 {status: 'invalid request', message: 'Invalid JSON', errors: [...]} for a body that is not JSON
 *     429 (programmable, optionally with Retry-After) — PagerDuty's "slow down"
 *
 * It also keeps the state of each alert (triggered / acknowledged / resolved) by dedup_key, which
 * is what a real service shows on-call: acknowledge and resolve of an unknown key are accepted and
 * change nothing, as on PagerDuty.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { closeServer, listenOnLoopback } from './process';

export interface RecordedEvent {
  at: number;
  /** The HTTP status we answered. */
  status: number;
  body: unknown;
}

export interface PagerDutyAlert {
  dedupKey: string;
  status: 'triggered' | 'acknowledged' | 'resolved';
  summary: string;
  severity: string;
  source: string;
  /** How many trigger events this alert absorbed (re-pages are deduplicated into one alert). */
  triggers: number;
}

const SEVERITIES = ['critical', 'error', 'warning', 'info'];
const ACTIONS = ['trigger', 'acknowledge', 'resolve'];
const MAX_BODY_BYTES = 512 * 1024;

export class PagerDutyStandIn {
  readonly events: RecordedEvent[] = [];
  readonly alerts = new Map<string, PagerDutyAlert>();
  private readonly queuedFailures: Array<{ status: number; retryAfter?: string }> = [];
  private server?: Server;
  url = '';

  /** Resolves with the Events API endpoint URL (…/v2/enqueue). */
  async start(): Promise<string> {
    const server = createServer((req, res) => this.handle(req, res));
    this.server = server;
    const port = await listenOnLoopback(server, '127.0.0.1');
    this.url = `http://127.0.0.1:${port}/v2/enqueue`;
    return this.url;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await closeServer(server);
  }

  /** The next `times` requests are answered with `status` (429 or 5xx) before any validation. */
  failNext(times: number, status = 429, retryAfter?: string): void {
    for (let i = 0; i < times; i++) this.queuedFailures.push({ status, retryAfter });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    const path = new URL(req.url ?? '/', 'http://pagerduty').pathname;
    if (path !== '/v2/enqueue') return reply(404, { status: 'not found', message: 'Not Found' });
    if (req.method !== 'POST') return reply(405, { status: 'method not allowed', message: 'Method Not Allowed' });

    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => {
      const at = Date.now();
      const failure = this.queuedFailures.shift();
      let parsed: unknown;
      try {
        parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        parsed = undefined;
      }
      const record = (status: number) => this.events.push({ at, status, body: parsed });
      if (failure) {
        record(failure.status);
        const headers: Record<string, string> = failure.retryAfter ? { 'retry-after': failure.retryAfter } : {};
        const message = failure.status === 429 ? 'Requests for this service are arriving too quickly' : 'Error';
        return reply(failure.status, { status: 'throttle event', message }, headers);
      }
      if (size > MAX_BODY_BYTES) {
        record(413);
        return reply(413, { status: 'invalid request', message: 'Request Entity Too Large' });
      }
      if (parsed === undefined) {
        record(400);
        return reply(400, { status: 'invalid request', message: 'Invalid JSON', errors: ['Body is not valid JSON'] });
      }
      const errors = validateEvent(parsed);
      if (errors.length) {
        record(400);
        return reply(400, { status: 'invalid event', message: 'Event object is invalid', errors });
      }
      record(202);
      const dedupKey = this.apply(parsed as EventBody);
      return reply(202, { status: 'success', message: 'Event processed', dedup_key: dedupKey });
    });
  }

  private apply(event: EventBody): string {
    const dedupKey = event.dedup_key ?? randomUUID().replace(/-/g, '');
    const alert = this.alerts.get(dedupKey);
    if (event.event_action === 'trigger') {
      const payload = event.payload!;
      // A trigger on a resolved alert opens a new one; on an open alert it is deduplicated.
      if (alert && alert.status !== 'resolved') {
        alert.triggers += 1;
      } else {
        this.alerts.set(dedupKey, {
          dedupKey,
          status: 'triggered',
          summary: payload.summary,
          severity: payload.severity,
          source: payload.source,
          triggers: 1,
        });
      }
    } else if (alert && alert.status !== 'resolved') {
      alert.status = event.event_action === 'acknowledge' ? 'acknowledged' : 'resolved';
    }
    return dedupKey;
  }
}

interface EventBody {
  routing_key: string;
  event_action: 'trigger' | 'acknowledge' | 'resolve';
  dedup_key?: string;
  payload?: { summary: string; source: string; severity: string };
}

function validateEvent(body: unknown): string[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return ['Event must be a JSON object'];
  const event = body as Record<string, unknown>;
  const errors: string[] = [];
  if (typeof event.routing_key !== 'string' || event.routing_key === '') {
    errors.push("'routing_key' is missing or blank");
  } else if (event.routing_key.length !== 32) {
    errors.push("Length of 'routing_key' is incorrect (should be 32 characters)");
  }
  if (typeof event.event_action !== 'string' || !ACTIONS.includes(event.event_action)) {
    errors.push("'event_action' is invalid (must be one of the following: 'trigger', 'acknowledge' or 'resolve')");
  }
  if (event.dedup_key !== undefined) {
    if (typeof event.dedup_key !== 'string' || event.dedup_key.length > 255) {
      errors.push("'dedup_key' must be a string of at most 255 characters");
    }
  } else if (event.event_action === 'acknowledge' || event.event_action === 'resolve') {
    errors.push("'dedup_key' is missing or blank");
  }
  if (event.event_action === 'trigger') {
    const payload = event.payload;
    if (typeof payload !== 'object' || payload === null) {
      errors.push("'payload' is missing or blank");
    } else {
      const p = payload as Record<string, unknown>;
      for (const field of ['summary', 'source', 'severity']) {
        if (typeof p[field] !== 'string' || (p[field] as string).trim() === '') {
          errors.push(`'payload.${field}' is missing or blank`);
        }
      }
      if (typeof p.severity === 'string' && p.severity !== '' && !SEVERITIES.includes(p.severity)) {
        errors.push(
          "'payload.severity' is invalid (must be one of the following: 'critical', 'warning', 'error' or 'info')",
        );
      }
      if (typeof p.summary === 'string' && p.summary.length > 1024) {
        errors.push("'payload.summary' is too long (maximum is 1024 characters)");
      }
      if (p.timestamp !== undefined && (typeof p.timestamp !== 'string' || Number.isNaN(Date.parse(p.timestamp)))) {
        errors.push("'payload.timestamp' is invalid (must be an ISO 8601 date)");
      }
    }
  }
  return errors;
}

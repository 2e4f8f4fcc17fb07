/**
 * The two webhook payloads Firebreak accepts, validated once at the edge: Alertmanager's webhook
 * (payload version 4) and Grafana's unified-alerting webhook (version 1, the same shape plus a few
 * Grafana fields). Unknown fields are dropped, not refused: both senders add fields over time.
 */
import { z } from 'zod';
import type { AlertInstance, AlertNotification } from '../../domain/messages';

const labelSet = z.record(z.string(), z.string());

/** RFC 3339; Go's zero time (0001-01-01T00:00:00Z) means "not set" and becomes undefined. */
const timestamp = z.iso
  .datetime({ offset: true, error: 'must be an RFC 3339 timestamp' })
  .optional()
  .transform((value) => (value === undefined || Date.parse(value) <= 0 ? undefined : value));

const status = z.enum(['firing', 'resolved'], { error: 'must be "firing" or "resolved"' });

const alertSchema = z.object({
  status,
  labels: labelSet,
  annotations: labelSet.default({}),
  startsAt: timestamp,
  endsAt: timestamp,
  generatorURL: z.string().optional(),
  fingerprint: z.string().min(1, 'must not be empty'),
});

const commonFields = {
  receiver: z.string(),
  status,
  groupKey: z.string().min(1, 'must not be empty'),
  truncatedAlerts: z.number().int().min(0).default(0),
  alerts: z.array(alertSchema).min(1, 'must hold at least one alert'),
  groupLabels: labelSet.default({}),
  commonLabels: labelSet.default({}),
  commonAnnotations: labelSet.default({}),
  externalURL: z.string().optional(),
};

export const alertmanagerPayloadSchema = z.object({
  version: z.literal('4', { error: 'must be "4" (the Alertmanager webhook payload version Firebreak speaks)' }),
  ...commonFields,
});

export const grafanaPayloadSchema = z.object({
  version: z.literal('1', { error: 'must be "1" (Grafana unified alerting webhook)' }),
  ...commonFields,
  orgId: z.number().int().optional(),
  title: z.string().optional(),
  state: z.string().optional(),
  message: z.string().optional(),
});

export type AlertmanagerPayload = z.infer<typeof alertmanagerPayloadSchema>;
export type GrafanaPayload = z.infer<typeof grafanaPayloadSchema>;
export type WebhookPayload = AlertmanagerPayload | GrafanaPayload;
export type AlertSource = AlertNotification['source'];

export const PAYLOAD_SCHEMAS = { alertmanager: alertmanagerPayloadSchema, grafana: grafanaPayloadSchema } as const;

/** One line per problem, each naming the field: what a human fixing the sender needs to read. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 10)
    .map((issue) => {
      const where = issue.path.length > 0 ? issue.path.map(String).join('.') : 'body';
      return `${where}: ${issue.message}`;
    })
    .join('; ');
}

export type ParseResult = { ok: true; payload: WebhookPayload } | { ok: false; message: string };

export function parsePayload(source: AlertSource, body: unknown): ParseResult {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, message: `the body must be a JSON object (an ${source} webhook payload)` };
  }
  const result = PAYLOAD_SCHEMAS[source].safeParse(body);
  if (result.success) return { ok: true, payload: result.data };
  return { ok: false, message: `invalid ${source} payload: ${describeIssues(result.error)}` };
}

/**
 * Alertmanager versions have sent the receiver name regex-escaped (`web\.hook`); unescaping makes
 * both spellings one workflow id, so an upgrade never opens a second incident for the same group.
 */
export function normaliseReceiver(receiver: string): string {
  return receiver.replace(/\\(.)/g, '$1');
}

/** The incident's view of a notification: what `alertSignal` carries. */
export function toNotification(source: AlertSource, payload: WebhookPayload, receivedAt: Date): AlertNotification {
  return {
    source,
    receiver: normaliseReceiver(payload.receiver),
    groupKey: payload.groupKey,
    status: payload.status,
    truncatedAlerts: payload.truncatedAlerts,
    alerts: payload.alerts.map((alert): AlertInstance => ({
      fingerprint: alert.fingerprint,
      status: alert.status,
      labels: alert.labels,
      annotations: alert.annotations,
      ...(alert.startsAt ? { startsAt: alert.startsAt } : {}),
      ...(alert.endsAt ? { endsAt: alert.endsAt } : {}),
    })),
    receivedAt: receivedAt.toISOString(),
  };
}

/** The earliest `startsAt` of the group's alerts: when the trouble was first seen, for MTTA/MTTR. */
export function earliestStart(alerts: AlertInstance[]): string | undefined {
  const starts = alerts.map((a) => a.startsAt).filter((s): s is string => s !== undefined);
  if (starts.length === 0) return undefined;
  return starts.reduce((a, b) => (Date.parse(a) <= Date.parse(b) ? a : b));
}

/**
 * The webhook payloads Firebreak accepts, validated once at the edge. Liberal in what it accepts:
 * Alertmanager's webhook in every shape it has had, Grafana's unified alerting (the same shape
 * plus a few fields), and hand-written senders that leave fields out. What is missing is derived
 * later (normalise.ts) the way Alertmanager would have computed it; only what cannot be
 * understood at all — not JSON, no alert list, labels that are not a map, an unknown alert
 * status, a timestamp that is not one — is refused with 400 naming the field.
 *
 * The shapes, from Alertmanager's own history (notify/impl.go, later notify/webhook/webhook.go,
 * and template/template.go):
 *   0.1.0-beta0…beta2  version "2": `{version, status, alert: [...]}` — the list under `alert`,
 *                      no receiver, no group key, alerts without status or fingerprint
 *   0.1.0…0.5.x        version "3": receiver, group labels, per-alert status; `groupKey` a number
 *   0.6.0…0.18.x       version "4": `groupKey` the route/group-label string it still is
 *   0.19.0…0.20.x      + per-alert `fingerprint`
 *   0.21.0…            + `truncatedAlerts` (webhook `max_alerts`)
 */
import { z } from 'zod';

/** Label and annotation values: strings; numbers and booleans from hand-written senders are kept as text. */
const labelSet = z
  .record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()]), {
    error: 'must be an object of names to text values',
  })
  .transform((raw) => {
    const labels: Record<string, string> = {};
    // A null (or empty) value is Prometheus's "label not set".
    for (const [name, value] of Object.entries(raw)) if (value !== null && value !== '') labels[name] = String(value);
    return labels;
  });

const optionalLabelSet = labelSet.nullish().transform((labels) => labels ?? {});

/** RFC 3339; absent, empty, null and Go's zero time (0001-01-01T00:00:00Z) all mean "not set". */
const timestamp = z
  .union([z.iso.datetime({ offset: true, error: 'must be an RFC 3339 timestamp' }), z.literal(''), z.null()])
  .optional()
  .transform((value) => (value ? Date.parse(value) : undefined))
  .transform((ms) => (ms === undefined || ms <= 0 ? undefined : new Date(ms).toISOString()));

const status = z.enum(['firing', 'resolved'], { error: 'must be "firing" or "resolved"' });

const alertSchema = z.object(
  {
    status: status.optional(),
    labels: labelSet,
    annotations: optionalLabelSet,
    startsAt: timestamp,
    endsAt: timestamp,
    fingerprint: z.string().nullish(),
  },
  { error: 'must be an alert object' },
);

const alertList = z.array(alertSchema, { error: 'must be a list of alerts' });

export const webhookPayloadSchema = z
  .object({
    version: z.union([z.string(), z.number()]).nullish(),
    receiver: z.string().nullish(),
    status: status.nullish(),
    /** A string since Alertmanager 0.6; a number (a hash) in 0.1–0.5. */
    groupKey: z.union([z.string(), z.number()]).nullish(),
    truncatedAlerts: z.number().int().min(0).nullish(),
    alerts: alertList.optional(),
    /** Alertmanager 0.1.0 betas (payload version 2) put the list here. */
    alert: alertList.optional(),
    groupLabels: optionalLabelSet,
    commonLabels: optionalLabelSet,
    externalURL: z.string().nullish(),
  })
  .superRefine((payload, ctx) => {
    if (payload.alerts === undefined && payload.alert === undefined) {
      ctx.addIssue({ code: 'custom', path: ['alerts'], message: 'is required: the list of alerts' });
    }
  });

export type WebhookPayload = z.infer<typeof webhookPayloadSchema>;
export type PayloadAlert = z.infer<typeof alertSchema>;
export type AlertSource = 'alertmanager' | 'grafana';

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
  // Grafana's legacy (pre-unified) alerting speaks another language altogether: say so.
  if (!('alerts' in body) && ('evalMatches' in body || 'ruleName' in body)) {
    return {
      ok: false,
      message:
        'this is a legacy Grafana alerting notification (ruleName, evalMatches); send from a Grafana ' +
        'unified-alerting webhook contact point instead',
    };
  }
  const result = webhookPayloadSchema.safeParse(body);
  if (result.success) return { ok: true, payload: result.data };
  return { ok: false, message: `invalid ${source} payload: ${describeIssues(result.error)}` };
}

/**
 * Every environment variable Firebreak reads, parsed once at start-up by one zod schema. A bad
 * value names the variable and says why, and the process exits 2 (a configuration error, not a
 * crash). Document every addition in the README's configuration table.
 */
import { z } from 'zod';

/** FIREBREAK_LOG_LEVEL's values, shared with the logger (config/logger.ts). */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const port = z.coerce
  .number({ error: 'must be a port number' })
  .int('must be a whole number')
  .min(1, 'must be between 1 and 65535')
  .max(65535, 'must be between 1 and 65535');

const optionalText = z
  .string()
  .trim()
  .transform((value) => (value === '' ? undefined : value))
  .optional();

const url = z
  .url({ error: 'must be an absolute http(s) URL' })
  .refine((value) => /^https?:\/\//.test(value), 'must be an http(s) URL')
  .optional();

const BYTE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
};

/** A size in bytes: `33554432`, `32MiB`, `50MB`. */
const byteSize = (min: number, max: number) =>
  z
    .string()
    .trim()
    .transform((text, ctx) => {
      const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text);
      const unit = BYTE_UNITS[match?.[2]?.toLowerCase() ?? 'none'];
      if (!match || unit === undefined) {
        ctx.addIssue({ code: 'custom', message: 'must be a size such as 33554432, 32MiB or 50MB' });
        return z.NEVER;
      }
      const bytes = Math.floor(Number(match[1]) * unit);
      if (bytes < min || bytes > max) {
        ctx.addIssue({ code: 'custom', message: `must be between ${min} and ${max} bytes` });
        return z.NEVER;
      }
      return bytes;
    });

/** One evidence artefact's default cap (activities/evidence/store.ts keeps the same figure). */
export const DEFAULT_EVIDENCE_MAX_BYTES = 64 * 2 ** 20;

/** Alertmanager groups of thousands of pods pass 1 MiB (5,000 kube-state-metrics alerts are ~1.6 MB). */
export const DEFAULT_WEBHOOK_BODY_LIMIT = 32 * 2 ** 20;

export const envSchema = z
  .object({
    FIREBREAK_HOST: z.string().trim().min(1).default('127.0.0.1'),
    FIREBREAK_PORT: port.default(8080),
    FIREBREAK_DATA_DIR: z.string().trim().min(1).default('./.firebreak'),
    FIREBREAK_TEMPORAL_PORT: port.max(64535, 'must leave room for the Web UI on port + 1000').default(7233),
    FIREBREAK_TEMPORAL_BIN: optionalText,
    /**
     * The embedded dev server's SQLite `synchronous` level (write-ahead log either way): `normal`
     * loses nothing to a process crash; `full` also survives a power loss, at an fsync per commit.
     */
    FIREBREAK_TEMPORAL_SQLITE_SYNC: z.enum(['normal', 'full']).default('normal'),
    /**
     * Restarts of the embedded dev server `firebreak start` makes within 10 minutes when it stops on
     * its own (killed, crashed); one more and `firebreak start` exits 1 for its own supervisor to restart it.
     */
    FIREBREAK_TEMPORAL_MAX_RESTARTS: z.coerce
      .number({ error: 'must be a number of restarts' })
      .int('must be a whole number')
      .min(0, 'must be between 0 and 100')
      .max(100, 'must be between 0 and 100')
      .default(5),
    /**
     * How long Temporal may stay unreachable from the worker before `firebreak start` gives up and
     * exits 1 (a cluster gone for good; an outer supervisor restarts the process and it reconnects).
     */
    FIREBREAK_TEMPORAL_LOST_SECONDS: z.coerce
      .number({ error: 'must be a number of seconds' })
      .int('must be a whole number of seconds')
      .min(5, 'must be between 5 and 86400')
      .max(86_400, 'must be between 5 and 86400')
      .default(120),
    FIREBREAK_CONFIG: optionalText,
    /** A directory of runbook files (docs/runbooks.md); must exist when set. */
    FIREBREAK_RUNBOOKS_DIR: optionalText,
    FIREBREAK_ARCHIVE_DIR: optionalText,
    /** Where evidence (heap profiles, previous logs) is kept; `<FIREBREAK_DATA_DIR>/evidence` when unset. */
    FIREBREAK_EVIDENCE_DIR: optionalText,
    /** Cap of one evidence artefact: a bigger heap profile or log is cut there, and says so. */
    FIREBREAK_EVIDENCE_MAX_BYTES: byteSize(64 * 2 ** 10, 2 ** 30).default(DEFAULT_EVIDENCE_MAX_BYTES),
    FIREBREAK_WEBHOOK_TOKEN: optionalText,
    /** `user:password` accepted as HTTP basic auth on alert webhooks (Alertmanager http_config). */
    FIREBREAK_WEBHOOK_BASIC_AUTH: optionalText.refine(
      (value) => value === undefined || /^[^:]+:.+$/.test(value),
      'must be user:password',
    ),
    /** Largest alert webhook body accepted; credentials are checked before any of it is read. */
    FIREBREAK_WEBHOOK_BODY_LIMIT: byteSize(64 * 2 ** 10, 2 ** 30).default(DEFAULT_WEBHOOK_BODY_LIMIT),
    /** Grafana's optional webhook HMAC signing secret. */
    FIREBREAK_GRAFANA_HMAC_SECRET: optionalText,
    /**
     * The contact point's "Timestamp Header" (Grafana has no default name), e.g.
     * X-Grafana-Alerting-Signature-Timestamp; when set, signatures cover `<ts>:<body>` and stale ones are refused.
     */
    FIREBREAK_GRAFANA_HMAC_TIMESTAMP_HEADER: optionalText.refine(
      (value) => value === undefined || /^[A-Za-z0-9-]+$/.test(value),
      'must be an HTTP header name',
    ),
    FIREBREAK_SLACK_CHANNEL: optionalText,
    /** Temporal Web UI base URL for incident links in Slack; the embedded dev server's UI by default. */
    FIREBREAK_TEMPORAL_UI_URL: url,
    FIREBREAK_TASK_QUEUE: z.string().trim().min(1).default('firebreak'),
    /** Incidents the worker keeps in memory; the others replay from their history when they wake. */
    FIREBREAK_WORKFLOW_CACHE_SIZE: z.coerce.number().int().min(0).max(1_000_000).default(500),
    /** A prebuilt workflow bundle for production workers (see `npm run build:workflows`). */
    FIREBREAK_WORKFLOW_BUNDLE: optionalText,
    /**
     * The Worker Deployment the workers join (one build per workflow bundle); the task queue's name
     * when unset. Temporal refuses `.` and `:` in it.
     */
    FIREBREAK_DEPLOYMENT_NAME: z
      .string()
      .trim()
      .regex(/^[^.:]+$/, 'must not contain . or :')
      .optional(),
    /** Pinned worker versioning (docs/contributing.md); off only for a cluster without Worker Deployments. */
    FIREBREAK_WORKER_VERSIONING: z.stringbool().default(true),
    /** How often `firebreak start` checks whether an older build's incidents have all closed. */
    FIREBREAK_BUILD_SWEEP_SECONDS: z.coerce
      .number({ error: 'must be a number of seconds' })
      .int('must be a whole number of seconds')
      .min(1, 'must be between 1 and 3600')
      .max(3600, 'must be between 1 and 3600')
      .default(60),
    /** Who the CLI acts as (`cli:<name>`); the login name when unset. */
    FIREBREAK_USER: optionalText,
    FIREBREAK_LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
    TEMPORAL_ADDRESS: optionalText,
    TEMPORAL_NAMESPACE: z.string().trim().min(1).default('default'),
    TEMPORAL_API_KEY: optionalText,
    TEMPORAL_TLS_CERT: optionalText,
    TEMPORAL_TLS_KEY: optionalText,
    /** PEM of a private CA the server's certificate chains to; also turns TLS on by itself. */
    TEMPORAL_TLS_CA: optionalText,
    SLACK_BOT_TOKEN: optionalText.refine(
      (value) => value === undefined || value.startsWith('xoxb-'),
      'must be a bot token (xoxb-...)',
    ),
    SLACK_SIGNING_SECRET: optionalText,
    SLACK_APP_TOKEN: optionalText.refine(
      (value) => value === undefined || value.startsWith('xapp-'),
      'must be an app-level token (xapp-...)',
    ),
    SLACK_API_URL: url,
    KUBECONFIG: optionalText,
    /**
     * The ingress's own Kubernetes identity for its cluster-wide reads (alerting pod → Deployment):
     * a kubeconfig file, or a directory holding a service account's `token` and `ca.crt` (a mounted
     * service-account-token Secret) used against the in-cluster API server. Unset: KUBECONFIG's.
     */
    FIREBREAK_INGRESS_KUBECONFIG: optionalText,
    PAGERDUTY_ROUTING_KEY: optionalText,
    PAGERDUTY_EVENTS_URL: url,
    PROMETHEUS_URL: url,
    /**
     * Base URL of an OTLP/HTTP receiver (an OpenTelemetry Collector's `:4318`): when set, the engine's
     * own traces are exported there (`<endpoint>/v1/traces`, protobuf); unset, nothing is traced.
     */
    OTEL_EXPORTER_OTLP_ENDPOINT: url,
    /** Only OTLP over HTTP with protobuf bodies is spoken; anything else is refused rather than ignored. */
    OTEL_EXPORTER_OTLP_PROTOCOL: z
      .enum(['http/protobuf'], { error: 'must be http/protobuf (the only OTLP transport Firebreak exports over)' })
      .optional(),
    /** The traces' `service.name`. */
    OTEL_SERVICE_NAME: z.string().trim().min(1).default('firebreak'),
    /**
     * `host:port` where the Temporal runtime serves the worker's own metrics (task slots, poll
     * latencies, sticky cache, schedule-to-start...) in Prometheus text format; unset, they are not served.
     */
    FIREBREAK_WORKER_METRICS_ADDRESS: optionalText.refine(
      (value) => value === undefined || /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(value),
      'must be host:port, e.g. 127.0.0.1:9464',
    ),
    /** SMTP relay for email escalation tiers. */
    FIREBREAK_SMTP_HOST: optionalText,
    FIREBREAK_SMTP_PORT: port.default(587),
    /** Implicit TLS from the first byte (port 465 style); otherwise STARTTLS. */
    FIREBREAK_SMTP_SECURE: z.stringbool().default(false),
    /** Refuse to send unless STARTTLS succeeds (ignored with FIREBREAK_SMTP_SECURE). */
    FIREBREAK_SMTP_REQUIRE_TLS: z.stringbool().default(true),
    FIREBREAK_SMTP_USER: optionalText,
    FIREBREAK_SMTP_PASSWORD: optionalText,
    /** PEM file of a private CA that signed the relay's certificate. */
    FIREBREAK_SMTP_CA: optionalText,
    /** Sender of page emails, e.g. `Firebreak <firebreak@example.com>`. */
    FIREBREAK_EMAIL_FROM: optionalText,
  })
  .superRefine((env, ctx) => {
    if ((env.TEMPORAL_TLS_CERT === undefined) !== (env.TEMPORAL_TLS_KEY === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: [env.TEMPORAL_TLS_CERT ? 'TEMPORAL_TLS_KEY' : 'TEMPORAL_TLS_CERT'],
        message: 'TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY must be set together',
      });
    }
    if (env.SLACK_BOT_TOKEN && !env.SLACK_SIGNING_SECRET && !env.SLACK_APP_TOKEN) {
      ctx.addIssue({
        code: 'custom',
        path: ['SLACK_SIGNING_SECRET'],
        message: 'is required with SLACK_BOT_TOKEN, so Slack requests can be verified',
      });
    }
    if (env.FIREBREAK_SMTP_HOST && !env.FIREBREAK_EMAIL_FROM) {
      ctx.addIssue({ code: 'custom', path: ['FIREBREAK_EMAIL_FROM'], message: 'is required with FIREBREAK_SMTP_HOST' });
    }
    if ((env.FIREBREAK_SMTP_USER === undefined) !== (env.FIREBREAK_SMTP_PASSWORD === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: [env.FIREBREAK_SMTP_USER ? 'FIREBREAK_SMTP_PASSWORD' : 'FIREBREAK_SMTP_USER'],
        message: 'FIREBREAK_SMTP_USER and FIREBREAK_SMTP_PASSWORD must be set together',
      });
    }
    // Alert webhooks start remediations: once the ingress is reachable beyond this machine, an
    // unauthenticated webhook would let anyone restart or scale deployments.
    const loopback = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/.test(env.FIREBREAK_HOST);
    if (!loopback && !env.FIREBREAK_WEBHOOK_TOKEN && !env.FIREBREAK_WEBHOOK_BASIC_AUTH) {
      ctx.addIssue({
        code: 'custom',
        path: ['FIREBREAK_WEBHOOK_TOKEN'],
        message: `is required (or FIREBREAK_WEBHOOK_BASIC_AUTH) when FIREBREAK_HOST (${env.FIREBREAK_HOST}) is not loopback`,
      });
    }
  });

export type Env = z.infer<typeof envSchema>;

export class ConfigError extends Error {
  readonly exitCode = 2;
}

/** Parses the environment; throws ConfigError with one line per bad variable. */
export function parseEnv(source: NodeJS.ProcessEnv = process.env): Env {
  const result = envSchema.safeParse(source);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const name = String(issue.path[0] ?? 'environment');
    const value = source[name];
    const shown = value === undefined ? '' : ` (got ${JSON.stringify(redact(name, value))})`;
    return `  ${name}: ${issue.message}${shown}`;
  });
  return failConfig(`Invalid configuration:\n${lines.join('\n')}`);
}

function redact(name: string, value: string): string {
  return /TOKEN|SECRET|KEY|PASSWORD|AUTH/.test(name) ? '<redacted>' : value;
}

function failConfig(message: string): never {
  throw new ConfigError(message);
}

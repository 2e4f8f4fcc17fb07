/**
 * Who may post alerts. Alertmanager's `http_config` sends either `Authorization: Bearer <token>`
 * (FIREBREAK_WEBHOOK_TOKEN) or basic auth (FIREBREAK_WEBHOOK_BASIC_AUTH, `user:password`); either
 * one configured is accepted. Grafana can send the same headers, or sign the body with HMAC-SHA256
 * (FIREBREAK_GRAFANA_HMAC_SECRET), which then is required and sufficient. Every comparison is
 * constant-time over digests, so neither content nor length leaks through timing.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { Env } from '../../config/env';

export const GRAFANA_SIGNATURE_HEADER = 'x-grafana-alerting-signature';
/** Same replay window as Slack's: a signed request older or newer than this is refused. */
export const MAX_CLOCK_SKEW_SECONDS = 300;

export type AuthResult = { ok: true; method: string } | { ok: false; reason: string };

type Headers = Record<string, string | string[] | undefined>;

function header(headers: Headers, name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/** Equal-length digests first, so the comparison never short-circuits on length. */
export function constantTimeEqual(a: string, b: string): boolean {
  const left = createHash('sha256').update(a).digest();
  const right = createHash('sha256').update(b).digest();
  return timingSafeEqual(left, right);
}

export interface WebhookAuthConfig {
  token?: string;
  basic?: string;
  grafanaHmacSecret?: string;
  grafanaTimestampHeader?: string;
}

export function webhookAuthConfig(env: Env): WebhookAuthConfig {
  return {
    token: env.FIREBREAK_WEBHOOK_TOKEN,
    basic: env.FIREBREAK_WEBHOOK_BASIC_AUTH,
    grafanaHmacSecret: env.FIREBREAK_GRAFANA_HMAC_SECRET,
    grafanaTimestampHeader: env.FIREBREAK_GRAFANA_HMAC_TIMESTAMP_HEADER,
  };
}

/** True when nothing is configured: the webhooks are then open (said once at start-up). */
export function webhooksUnauthenticated(config: WebhookAuthConfig): boolean {
  return !config.token && !config.basic;
}

/** Bearer token or basic auth, whichever the request carries, checked against what is configured. */
export function checkCredentials(config: WebhookAuthConfig, headers: Headers): AuthResult {
  if (webhooksUnauthenticated(config)) return { ok: true, method: 'none configured' };
  const authorization = header(headers, 'authorization')?.trim();
  if (!authorization) return { ok: false, reason: 'missing Authorization header (bearer token or basic auth)' };
  const space = authorization.indexOf(' ');
  const scheme = (space > 0 ? authorization.slice(0, space) : authorization).toLowerCase();
  const credentials = space > 0 ? authorization.slice(space + 1).trim() : '';
  if (scheme === 'bearer') {
    if (!config.token) return { ok: false, reason: 'bearer tokens are not accepted here; use basic auth' };
    return constantTimeEqual(credentials, config.token)
      ? { ok: true, method: 'bearer' }
      : { ok: false, reason: 'invalid bearer token' };
  }
  if (scheme === 'basic') {
    if (!config.basic) return { ok: false, reason: 'basic auth is not accepted here; use a bearer token' };
    const decoded = Buffer.from(credentials, 'base64').toString('utf8');
    return constantTimeEqual(decoded, config.basic)
      ? { ok: true, method: 'basic' }
      : { ok: false, reason: 'invalid basic auth credentials' };
  }
  return { ok: false, reason: `unsupported Authorization scheme ${JSON.stringify(scheme)}; use Bearer or Basic` };
}

/**
 * Grafana's signature: hex HMAC-SHA256 of the raw body, or of `<timestamp>:<body>` when a
 * timestamp header is configured — then the timestamp (Unix seconds) must be within
 * MAX_CLOCK_SKEW_SECONDS in either direction, so a captured request cannot be replayed later.
 */
export function checkGrafanaSignature(
  config: WebhookAuthConfig,
  headers: Headers,
  rawBody: string,
  nowMs = Date.now(),
): AuthResult {
  const secret = config.grafanaHmacSecret;
  if (!secret) return { ok: false, reason: 'no Grafana HMAC secret is configured' };
  const signature = header(headers, GRAFANA_SIGNATURE_HEADER)?.trim().toLowerCase();
  if (!signature) return { ok: false, reason: `missing ${GRAFANA_SIGNATURE_HEADER} header` };
  let signed = rawBody;
  if (config.grafanaTimestampHeader) {
    const timestamp = header(headers, config.grafanaTimestampHeader)?.trim();
    if (!timestamp) return { ok: false, reason: `missing ${config.grafanaTimestampHeader} header` };
    if (!/^\d{1,12}$/.test(timestamp)) {
      return { ok: false, reason: `${config.grafanaTimestampHeader} must be Unix seconds` };
    }
    if (Math.abs(nowMs / 1000 - Number(timestamp)) > MAX_CLOCK_SKEW_SECONDS) {
      return { ok: false, reason: `stale signature: timestamp more than ${MAX_CLOCK_SKEW_SECONDS}s from now` };
    }
    signed = `${timestamp}:${rawBody}`;
  }
  const expected = createHmac('sha256', secret).update(signed).digest('hex');
  return constantTimeEqual(signature, expected)
    ? { ok: true, method: 'grafana-hmac' }
    : { ok: false, reason: 'invalid Grafana signature' };
}

export function authenticate(
  source: 'alertmanager' | 'grafana',
  config: WebhookAuthConfig,
  headers: Headers,
  rawBody: string,
): AuthResult {
  if (source === 'grafana' && config.grafanaHmacSecret) return checkGrafanaSignature(config, headers, rawBody);
  return checkCredentials(config, headers);
}
